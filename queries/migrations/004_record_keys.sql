-- Schema 4: each Zscaler record once, per-file duplicate and reject figures, in-flight loads.
--
-- ingest_ledger: lines_read = rows_loaded + rows_rejected + rows_duplicate. rows_duplicate counts
-- records whose natural key was already loaded (from another file, or earlier in the same one);
-- top_reject_reason is the most frequent reason among the file's rejects (values in quotes
-- blanked out), the one `ingest zscaler` names when a file's reject rate is over the limit.
-- status is loaded | replaced | refused (refused: no line of the file could be a record; note
-- says why, and the file has no rows and no rejects).
ALTER TABLE ingest_ledger ADD COLUMN rows_duplicate BIGINT DEFAULT 0;
ALTER TABLE ingest_ledger ADD COLUMN top_reject_reason VARCHAR;

-- record_key: the natural key of a Zscaler record besides its event_time. ZIA records carrying
-- a recordid: hash(record_id); every other record (ZPA, ZIA feeds without recordid): the hash of
-- the whole normalized record (every column but rid, file_id, source_file, source_line,
-- host_derived and record_key, in table order). A record is a duplicate when (event_time, record_key) is already
-- in its table (docs/schema.md). Rows loaded before schema 4 get their key here.
ALTER TABLE zia_web ADD COLUMN record_key UBIGINT;
ALTER TABLE zia_firewall ADD COLUMN record_key UBIGINT;
ALTER TABLE zia_dns ADD COLUMN record_key UBIGINT;
ALTER TABLE zpa_user_activity ADD COLUMN record_key UBIGINT;
ALTER TABLE zpa_user_status ADD COLUMN record_key UBIGINT;

UPDATE zia_web SET record_key = CASE WHEN k.record_id IS NOT NULL THEN hash(k.record_id) ELSE k.h END
FROM (SELECT rowid AS r, record_id,
             hash(*COLUMNS(* EXCLUDE (rid, file_id, source_file, source_line, host_derived, record_key))) AS h
      FROM zia_web) k
WHERE zia_web.rowid = k.r;
UPDATE zia_firewall SET record_key = CASE WHEN k.record_id IS NOT NULL THEN hash(k.record_id) ELSE k.h END
FROM (SELECT rowid AS r, record_id, hash(*COLUMNS(* EXCLUDE (rid, file_id, source_file, source_line, record_key))) AS h
      FROM zia_firewall) k
WHERE zia_firewall.rowid = k.r;
UPDATE zia_dns SET record_key = CASE WHEN k.record_id IS NOT NULL THEN hash(k.record_id) ELSE k.h END
FROM (SELECT rowid AS r, record_id, hash(*COLUMNS(* EXCLUDE (rid, file_id, source_file, source_line, record_key))) AS h
      FROM zia_dns) k
WHERE zia_dns.rowid = k.r;
UPDATE zpa_user_activity SET record_key = k.h
FROM (SELECT rowid AS r, hash(*COLUMNS(* EXCLUDE (rid, file_id, source_file, source_line, record_key))) AS h
      FROM zpa_user_activity) k
WHERE zpa_user_activity.rowid = k.r;
UPDATE zpa_user_status SET record_key = k.h
FROM (SELECT rowid AS r, hash(*COLUMNS(* EXCLUDE (rid, file_id, source_file, source_line, record_key))) AS h
      FROM zpa_user_status) k
WHERE zpa_user_status.rowid = k.r;

-- A Zscaler file whose load has committed rows (a large file commits in chunks) but not yet its
-- ledger row. Every open of the store deletes the rows of these files (Store.sweep_inflight), so
-- nothing reads the rows of a killed load.
CREATE TABLE IF NOT EXISTS ingest_inflight (
    file_id      VARCHAR PRIMARY KEY,
    source_kind  VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    started_at   TIMESTAMPTZ
);
