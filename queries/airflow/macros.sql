-- Helpers for the Airflow ingest (temporary, per connection). Values only; no user SQL.
-- af_ts: an Airflow timestamp string -> TIMESTAMPTZ; naive values are read in zone tz.
-- reads: -
CREATE OR REPLACE TEMP MACRO af_ts(x, tz) AS (
    CASE
        WHEN x IS NULL OR trim(x) = '' THEN NULL
        WHEN regexp_matches(trim(x), '(Z|[+-]\d\d(:?\d\d)?)$')
            THEN coalesce(
                try_strptime(trim(x), '%Y-%m-%dT%H:%M:%S.%f%z'),
                try_strptime(trim(x), '%Y-%m-%dT%H:%M:%S%z'),
                try_cast(trim(x) AS TIMESTAMPTZ))
        WHEN regexp_matches(x, '^\d{4}-\d\d-\d\d, \d\d:\d\d:\d\d UTC$')
            THEN timezone('UTC', try_strptime(x, '%Y-%m-%d, %H:%M:%S UTC'))
        ELSE timezone(tz, coalesce(
                try_strptime(trim(x), '%Y-%m-%d %H:%M:%S,%g'),
                try_cast(trim(x) AS TIMESTAMP)))
    END
);
-- af_ti_id: a task-instance UUID in the dashed lowercase form logs use (SQLite stores 32 hex).
CREATE OR REPLACE TEMP MACRO af_ti_id(x) AS (
    CASE
        WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL
        WHEN regexp_matches(lower(CAST(x AS VARCHAR)), '^[0-9a-f]{32}$')
            THEN lower(substr(x, 1, 8) || '-' || substr(x, 9, 4) || '-' || substr(x, 13, 4) || '-'
                       || substr(x, 17, 4) || '-' || substr(x, 21, 12))
        ELSE lower(trim(CAST(x AS VARCHAR)))
    END
);
-- af_attempt_id: first 16 hex of sha256("dag_id|run_id|task_id|map_index|try_number").
CREATE OR REPLACE TEMP MACRO af_attempt_id(d, r, t, m, n) AS (
    left(sha256(d || '|' || r || '|' || t || '|' || CAST(m AS VARCHAR) || '|' || CAST(n AS VARCHAR)), 16)
);
