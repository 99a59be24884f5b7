-- attribution_lake_rows when the store names no lake part (as migrations/008 created it): empty,
-- with the columns of attribution_rows.
-- reads: attribution_rows
CREATE OR REPLACE VIEW attribution_lake_rows AS
SELECT analysis_id, request_kind, request_rid, event_time, worker_ref, login, host, attempt_ref, method_code,
       candidates, candidate_attempts
FROM attribution_rows WHERE false;
