-- Parse every line of a batch of task logs (_af_lines: file_idx, line_no, raw) into records.
-- A line is an Airflow 3 JSON record, an Airflow 2 text record, a continuation of the record
-- above it (2.x tracebacks), or a reject (with its reason). Parameters: $tz. The raw text stays
-- in _af_lines (rejects and the egress scan join it back): one copy less of every line in memory.
-- Shaped for speed: JSON and text lines take separate paths (each evaluates only its own
-- expressions), the general timestamp macro only sees the rare lines the fast formats miss,
-- and the window that finds a continuation line's record runs over text lines only.
-- reads: _af_files, _af_lines
-- hands on: _af_parsed
CREATE OR REPLACE TEMP TABLE _af_parsed AS
WITH base AS MATERIALIZED (
    SELECT l.file_idx, l.line_no, l.raw,
           -- ANSI colour / cursor codes and a trailing CR are not part of the message
           CASE WHEN contains(l.raw, chr(27)) OR contains(l.raw, chr(13))
                THEN regexp_replace(rtrim(l.raw, chr(13)), '\x1b\[[0-9;?]*[ -/]*[@-~]', '', 'g')
                ELSE l.raw END AS line
    FROM _af_lines l
    WHERE l.cap IS NULL
),
jc AS MATERIALIZED (
    -- JSON whose only fault is a byte JSON cannot hold raw: invalid UTF-8 (read as \xNN, see
    -- airflow_logs._prepare) or a NUL; escaped (\\xNN, \u0000) they load with the text as read
    SELECT file_idx, line_no, raw, line, json_valid(line) AS valid,
           CASE WHEN NOT valid AND (contains(line, '\x') OR contains(line, chr(0)))
                THEN replace(replace(line, '\x', '\\x'), chr(0), '\u0000') END AS escaped
    FROM base
    WHERE left(ltrim(line), 1) = '{'
),
jl AS MATERIALIZED (
    SELECT file_idx, line_no, raw, line,
           json_extract_string(line, ['$.timestamp', '$.level', '$.event', '$.logger',
                 '$.dag_id', '$.run_id', '$.task_id', '$.map_index', '$.try_number', '$.ti_id', '$.ti',
                 '$.exit_code', '$.chan', '$.message', '$.asctime', '$.levelname']) AS jv
    FROM (SELECT file_idx, line_no, raw, coalesce(escaped, line) AS line FROM jc
          WHERE valid OR json_valid(escaped))
),
jr AS (
    SELECT file_idx, line_no, raw, true AS is_json, true AS is_record,
           coalesce(jv[1], jv[15]) AS ts_text,
           try_cast(coalesce(jv[1], jv[15]) AS TIMESTAMPTZ) AS ts_fast,
           upper(coalesce(jv[2], jv[16])) AS level,
           coalesce(jv[4], CASE WHEN jv[13] IS NOT NULL THEN 'task.' || jv[13] END) AS source,
           coalesce(jv[3], jv[14]) AS message,
           CASE WHEN contains(line, '"error_detail"') THEN
                array_to_string(list_transform(json_extract(line, '$.error_detail[*]'),
                    lambda e: coalesce(json_extract_string(e, '$.exc_type'), '?') || ': '
                              || coalesce(json_extract_string(e, '$.exc_value'), '')), ' <- ')
           END AS detail,
           jv[5] AS j_dag_id, jv[6] AS j_run_id, jv[7] AS j_task_id,
           try_cast(jv[8] AS INTEGER) AS j_map_index, try_cast(jv[9] AS INTEGER) AS j_try_number,
           af_ti_id(jv[10]) AS j_ti_id, jv[11] AS ti_repr, try_cast(jv[12] AS INTEGER) AS j_exit_code
    FROM jl
),
js AS (
    SELECT * EXCLUDE (ts_text, ts_fast), ts_fast AS ts FROM jr WHERE ts_fast IS NOT NULL OR ts_text IS NULL
    UNION ALL
    SELECT * EXCLUDE (ts_text, ts_fast), af_ts(ts_text, $tz) AS ts FROM jr WHERE ts_fast IS NULL AND ts_text IS NOT NULL
),
tl AS MATERIALIZED (
    SELECT b.file_idx, b.line_no, b.raw, b.line,
           regexp_extract(b.line, '^\[([^\]]+)\] \{([^}]*):(\d+)\} ([A-Z]+) - ?(.*)$',
                          ['ts', 'src', 'lineno', 'level', 'msg']) AS tv
    FROM base b ANTI JOIN jl USING (file_idx, line_no)
),
tr AS (
    SELECT file_idx, line_no, raw, line, tv, try_strptime(tv.ts, '%Y-%m-%dT%H:%M:%S.%g%z') AS ts_fast FROM tl
),
tt AS (
    SELECT * EXCLUDE (ts_fast), ts_fast AS ts FROM tr WHERE ts_fast IS NOT NULL OR tv.ts = ''
    UNION ALL
    SELECT * EXCLUDE (ts_fast), af_ts(tv.ts, $tz) AS ts FROM tr WHERE ts_fast IS NULL AND tv.ts <> ''
),
tw AS (
    SELECT *,
           ts IS NOT NULL AS is_record,
           -- the last text record at or above this line, with its time, level and source
           last_value(CASE WHEN ts IS NOT NULL THEN
                          {'line_no': line_no, 'ts': ts, 'level': tv.level, 'source': tv.src || ':' || tv.lineno}
                      END IGNORE NULLS)
               OVER (PARTITION BY file_idx ORDER BY line_no ROWS UNBOUNDED PRECEDING) AS rec
    FROM tt
),
txt AS (
    SELECT w.file_idx, w.line_no, w.raw, false AS is_json, w.is_record, w.rec.line_no AS record_line,
           w.rec.ts AS ts, w.rec.level AS level, w.rec.source AS source,
           CASE WHEN w.is_record THEN w.tv.msg ELSE w.line END AS message,
           trim(w.line) = '' AS blank
    FROM tw w
),
lines AS (
    SELECT file_idx, line_no, raw, is_json, is_record, line_no AS record_line, ts, level, source, message,
           false AS blank, detail, j_dag_id, j_run_id, j_task_id, j_map_index, j_try_number, j_ti_id,
           ti_repr, j_exit_code
    FROM js
    UNION ALL
    SELECT file_idx, line_no, raw, is_json, is_record, record_line, ts, level, source, message,
           blank, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM txt
),
capped AS (
    -- lines over a cap (limits.py: length, JSON depth) or that failed the parse on their own:
    -- rejects with their reason, never parsed; a 2.x continuation below one still finds its record
    SELECT file_idx, line_no, cap FROM _af_lines WHERE cap IS NOT NULL
),
every AS (
    SELECT *, NULL::VARCHAR AS cap FROM lines
    UNION ALL
    SELECT file_idx, line_no, NULL, false, false, NULL, NULL, NULL, NULL, NULL, false,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, cap
    FROM capped
)
SELECT k.file_idx, k.line_no, k.is_json, k.is_record,
       CASE WHEN k.cap IS NOT NULL THEN 'reject'
            WHEN k.is_record THEN 'record'
            WHEN f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL THEN 'continuation'
            ELSE 'reject' END AS kind,
       CASE WHEN k.cap IS NOT NULL THEN k.cap
            WHEN k.is_record THEN NULL
            WHEN f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL THEN NULL
            WHEN f.fmt = 'airflow3_json' AND k.blank THEN 'blank line in an Airflow 3 JSON task log'
            WHEN f.fmt = 'airflow3_json' AND k.line_no = f.n_lines AND NOT f.ends_with_newline
                THEN 'truncated last line: not a complete JSON object (file cut off while being written?)'
            WHEN f.fmt = 'airflow3_json' THEN 'not a JSON object: expected an Airflow 3 task-log record {"timestamp", "level", "event", ...}'
            ELSE 'no Airflow task-log record above this line: expected "[<time>] {<file>:<line>} <LEVEL> - <message>"'
       END AS reject_reason,
       CASE WHEN k.is_record OR f.fmt = 'airflow2_text' THEN k.record_line END AS record_line,
       CASE WHEN k.is_record OR (f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL) THEN k.ts END AS ts,
       CASE WHEN k.is_record OR (f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL) THEN k.level END AS level,
       CASE WHEN k.is_record OR (f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL) THEN k.source END AS source,
       k.message, k.detail, k.j_dag_id, k.j_run_id, k.j_task_id, k.j_map_index, k.j_try_number, k.j_ti_id,
       k.ti_repr, k.j_exit_code
FROM every k JOIN _af_files f USING (file_idx);
