-- Parse every line of a batch of task logs (_af_lines: file_idx, line_no, raw) into records.
-- A line is an Airflow 3 JSON record, an Airflow 2 text record, a continuation of the record
-- above it (2.x tracebacks), or a reject (with its reason). Parameters: $tz.
CREATE OR REPLACE TEMP TABLE _af_parsed AS
WITH clean AS (
    SELECT l.file_idx, l.line_no, l.raw,
           -- ANSI colour / cursor codes and a trailing CR are not part of the message
           CASE WHEN contains(l.raw, chr(27)) THEN regexp_replace(rtrim(l.raw, chr(13)), '\x1b\[[0-9;?]*[ -/]*[@-~]', '', 'g')
                ELSE rtrim(l.raw, chr(13)) END AS line
    FROM _af_lines l
),
j AS (
    SELECT *,
           left(ltrim(line), 1) = '{' AND json_valid(line) AS is_json
    FROM clean
),
x AS MATERIALIZED (
    SELECT *,
           CASE WHEN is_json THEN json_extract_string(line, ['$.timestamp', '$.level', '$.event', '$.logger',
                 '$.dag_id', '$.run_id', '$.task_id', '$.map_index', '$.try_number', '$.ti_id', '$.ti',
                 '$.exit_code', '$.chan', '$.message', '$.asctime', '$.levelname']) END AS jv,
           CASE WHEN NOT is_json THEN regexp_extract(line,
                 '^\[([^\]]+)\] \{([^}]*):(\d+)\} ([A-Z]+) - ?(.*)$',
                 ['ts', 'src', 'lineno', 'level', 'msg']) END AS tv
    FROM j
),
p AS MATERIALIZED (
    SELECT file_idx, line_no, raw, line, is_json,
           CASE WHEN is_json THEN coalesce(try_cast(jv[1] AS TIMESTAMPTZ), af_ts(coalesce(jv[1], jv[15]), $tz))
                WHEN tv.ts <> '' THEN coalesce(try_strptime(tv.ts, '%Y-%m-%dT%H:%M:%S.%g%z'), af_ts(tv.ts, $tz)) END AS ts,
           CASE WHEN is_json THEN upper(coalesce(jv[2], jv[16])) ELSE nullif(tv.level, '') END AS level,
           CASE WHEN is_json THEN coalesce(jv[4], CASE WHEN jv[13] IS NOT NULL THEN 'task.' || jv[13] END)
                WHEN tv.src <> '' THEN tv.src || ':' || tv.lineno END AS source,
           CASE WHEN is_json THEN coalesce(jv[3], jv[14]) ELSE tv.msg END AS msg,
           CASE WHEN is_json AND json_exists(line, '$.error_detail') THEN
                array_to_string(list_transform(json_extract(line, '$.error_detail[*]'),
                    lambda e: coalesce(json_extract_string(e, '$.exc_type'), '?') || ': '
                              || coalesce(json_extract_string(e, '$.exc_value'), '')), ' <- ')
           END AS detail,
           CASE WHEN is_json THEN jv[5] END AS j_dag_id,
           CASE WHEN is_json THEN jv[6] END AS j_run_id,
           CASE WHEN is_json THEN jv[7] END AS j_task_id,
           CASE WHEN is_json THEN try_cast(jv[8] AS INTEGER) END AS j_map_index,
           CASE WHEN is_json THEN try_cast(jv[9] AS INTEGER) END AS j_try_number,
           CASE WHEN is_json THEN af_ti_id(jv[10]) END AS j_ti_id,
           CASE WHEN is_json THEN jv[11] END AS ti_repr,
           CASE WHEN is_json THEN try_cast(jv[12] AS INTEGER) END AS j_exit_code
    FROM x
),
k AS (
    SELECT *,
           is_json OR (ts IS NOT NULL AND msg IS NOT NULL) AS is_record,
           -- one window pass: the record a line belongs to (the last record at or above it),
           -- and that record's time, level and source for continuation lines
           max(CASE WHEN is_json OR (ts IS NOT NULL AND msg IS NOT NULL) THEN line_no END) OVER w AS record_line,
           last_value(ts IGNORE NULLS) OVER w AS ts_ffill,
           last_value(level IGNORE NULLS) OVER w AS level_ffill,
           last_value(source IGNORE NULLS) OVER w AS source_ffill
    FROM p
    WINDOW w AS (PARTITION BY file_idx ORDER BY line_no ROWS UNBOUNDED PRECEDING)
)
SELECT k.file_idx, k.line_no, k.raw, k.is_json, k.is_record,
       CASE WHEN k.is_record THEN 'record'
            WHEN f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL THEN 'continuation'
            ELSE 'reject' END AS kind,
       CASE WHEN k.is_record THEN NULL
            WHEN f.fmt = 'airflow2_text' AND k.record_line IS NOT NULL THEN NULL
            WHEN f.fmt = 'airflow3_json' AND trim(k.line) = '' THEN 'blank line in an Airflow 3 JSON task log'
            WHEN f.fmt = 'airflow3_json' AND k.line_no = f.n_lines AND NOT f.ends_with_newline
                THEN 'truncated last line: not a complete JSON object (file cut off while being written?)'
            WHEN f.fmt = 'airflow3_json' THEN 'not a JSON object: expected an Airflow 3 task-log record {"timestamp", "level", "event", ...}'
            ELSE 'no Airflow task-log record above this line: expected "[<time>] {<file>:<line>} <LEVEL> - <message>"'
       END AS reject_reason,
       k.record_line,
       CASE WHEN k.is_record OR k.record_line IS NOT NULL THEN k.ts_ffill END AS ts,
       CASE WHEN k.is_record OR k.record_line IS NOT NULL THEN k.level_ffill END AS level,
       CASE WHEN k.is_record OR k.record_line IS NOT NULL THEN k.source_ffill END AS source,
       CASE WHEN k.is_record THEN k.msg ELSE k.line END AS message,
       k.detail, k.j_dag_id, k.j_run_id, k.j_task_id, k.j_map_index, k.j_try_number, k.j_ti_id,
       k.ti_repr, k.j_exit_code
FROM k JOIN _af_files f USING (file_idx);
