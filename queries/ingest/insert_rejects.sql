-- Rejected lines of one batch (registered as _zsaudit_rejects: file_id, source_file, source_line,
-- raw, reason, raw_bytes, raw_sha256). `raw` keeps the line's first $keep characters; the
-- length in bytes and the sha256 are of the whole line, unless the reader already cut it
-- (then they arrive in raw_bytes / raw_sha256).
-- reads: rejects, _zsaudit_rejects
INSERT INTO rejects (file_id, source_file, source_line, raw, reason, raw_bytes, raw_sha256)
SELECT file_id, source_file, source_line,
       CASE WHEN length(raw) > $keep THEN left(raw, $keep) ELSE raw END,
       reason,
       coalesce(raw_bytes, octet_length(encode(raw))),
       coalesce(raw_sha256, sha256(raw))
FROM _zsaudit_rejects
