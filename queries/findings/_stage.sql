-- Staging table every detection query fills; _finalize.sql turns it into `findings` rows.
-- fkey is the identifying evidence: finding_id = first 16 hex of sha256(kind || '|' || fkey).
CREATE OR REPLACE TEMP TABLE _found (
    kind VARCHAR, subtype VARCHAR, fkey VARCHAR, event_time TIMESTAMPTZ, attempt_id VARCHAR,
    worker VARCHAR, login VARCHAR, host VARCHAR, conn_id VARCHAR, detail VARCHAR,
    evidence_ids VARCHAR[], evidence_count BIGINT, gap_start TIMESTAMPTZ, gap_end TIMESTAMPTZ,
    attempts_hit VARCHAR[]
);
