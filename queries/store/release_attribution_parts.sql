-- Before an analysis stores its attributions (correlate/10_store_attributions), for the lake's
-- rows what that step does for the stored ones: the parts of the analysis it replaces are no
-- longer named, and another analysis whose period overlaps this one has its lake rows moved into
-- attribution_rows (its parts no longer named), so that step 10 deletes the ones inside this
-- period exactly as it deletes stored rows. attribution_lake_rows still names every part here;
-- store.release_attribution_parts re-creates it afterwards.
-- reads: attribution_rows, attribution_lake_rows, attribution_parts, analysis_runs
INSERT INTO attribution_rows
SELECT analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref, method_code,
       candidates, candidate_attempts
FROM attribution_lake_rows
WHERE analysis_id <> $analysis_id
  AND analysis_id IN (SELECT analysis_id FROM analysis_runs
                      WHERE coalesce(period_start, '-infinity'::TIMESTAMPTZ) < $until
                        AND coalesce(period_end, 'infinity'::TIMESTAMPTZ) > $since);

DELETE FROM attribution_parts
WHERE analysis_id = $analysis_id
   OR analysis_id IN (SELECT analysis_id FROM analysis_runs
                      WHERE coalesce(period_start, '-infinity'::TIMESTAMPTZ) < $until
                        AND coalesce(period_end, 'infinity'::TIMESTAMPTZ) > $since);
