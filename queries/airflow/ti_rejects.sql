-- The task-instance rows of this source that were rejected, with the reason, in source order.
-- reads: _af_tiv
SELECT row_no, raw, reject_reason FROM _af_tiv WHERE reject_reason IS NOT NULL ORDER BY row_no;
