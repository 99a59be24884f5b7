-- Rejects keep a bounded prefix of their line (limits.REJECT_KEEP_CHARS characters) in `raw`,
-- with the whole line's length in bytes and its sha256, so a file of garbage cannot grow the
-- store or the pack by its own size. Rows written before this migration keep their whole line
-- (and leave the two columns NULL).
ALTER TABLE rejects ADD COLUMN raw_bytes BIGINT;
ALTER TABLE rejects ADD COLUMN raw_sha256 VARCHAR;
