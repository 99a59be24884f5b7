-- Per file of the batch: lines kept, lines rejected, first and last event time.
-- reads: _af_la
SELECT file_idx,
       count(*) FILTER (WHERE kind <> 'reject' AND attempt_id IS NOT NULL) AS loaded,
       count(*) FILTER (WHERE kind = 'reject' OR attempt_id IS NULL) AS rejected,
       min(ts), max(ts)
FROM _af_la GROUP BY file_idx;
