-- top_value(histogram(x)): the most frequent non-NULL x of a group, the smallest on a tie. The
-- one way a finding picks its representative host or login (mode() breaks ties by the order rows
-- arrive in, which changes with threads and ingest order: re-performance must give the same answer).
-- reads: -
-- hands on: _found
CREATE OR REPLACE TEMP MACRO top_value(h) AS
    list_sort(list_transform(map_entries(h), lambda e: {'n': -CAST(e.value AS BIGINT), 'k': e.key}))[1].k;

-- Staging table every detection query fills; _finalize.sql turns it into `findings` rows.
-- fkey is the identifying evidence: finding_id = first 16 hex of sha256(kind || '|' || fkey).
CREATE OR REPLACE TEMP TABLE _found (
    kind VARCHAR, subtype VARCHAR, fkey VARCHAR, event_time TIMESTAMPTZ, attempt_id VARCHAR,
    worker VARCHAR, login VARCHAR, host VARCHAR, conn_id VARCHAR, detail VARCHAR,
    evidence_ids VARCHAR[], evidence_count BIGINT, gap_start TIMESTAMPTZ, gap_end TIMESTAMPTZ,
    attempts_hit VARCHAR[]
);
