-- Outbound URLs and host:port an attempt's lines name (message and continuation lines; for
-- Airflow 3 the whole JSON record, so structured kwargs count too). Also urllib3's
-- "host='x', port=N" form from connection errors. Hosts lowercased; user:password@ redacted.
-- reads: task_egress_hints, _af_la, _af_files, _af_lines
INSERT INTO task_egress_hints (attempt_id, dag_id, run_id, task_id, map_index, try_number, event_time,
                               url, host, port, log_file, source_line, message, scheme, rid, file_id)
WITH pre AS (
    -- cheap prefilter on the raw line: a scheme, urllib3's port=, or name.tld:port / a.b.c.d:port
    SELECT file_idx, line_no, raw FROM _af_lines
    WHERE contains(raw, '://') OR contains(raw, 'port=')
          OR regexp_matches(raw, '(?:[A-Za-z0-9]\.[A-Za-z0-9-]+|localhost):\d')
),
cand AS (
    SELECT a.file_idx, a.line_no, a.attempt_id, a.dag_id, a.run_id, a.task_id, a.map_index, a.try_number,
           a.ts, a.message, a.is_json, p.raw
    FROM _af_la a JOIN pre p USING (file_idx, line_no)
    WHERE a.kind <> 'reject' AND a.attempt_id IS NOT NULL
),
src AS MATERIALIZED (
    -- 3.x: every value of the record (its own ISO timestamp never looks like a URL or host:port)
    SELECT * EXCLUDE (is_json, raw), CASE WHEN is_json THEN raw ELSE message END AS text
    FROM cand
),
url_hits AS (
    SELECT src.*, unnest(regexp_extract_all(text, '(?i)\b(?:https?|wss?|ftps?|s3|gs|sftp)://[^\s''"<>\\`|]+')) AS hit
    FROM src WHERE text LIKE '%://%'
),
urls AS (
    SELECT u.* EXCLUDE (hit), regexp_replace(hit, '[.,;:!?)\]}>]+$', '') AS url FROM url_hits u
),
url_parsed AS (
    SELECT u.*, lower(regexp_extract(url, '^([A-Za-z][A-Za-z0-9+.-]*)://', 1)) AS scheme,
           regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#\s]*@)?(\[[^\]]+\]|[^:/?#\s]+)(?::(\d+))?',
                          ['host', 'port']) AS hp
    FROM urls u
),
bare AS (
    SELECT src.*, unnest(regexp_extract_all(
               regexp_replace(text, '(?i)\b(?:https?|wss?|ftps?|s3|gs|sftp)://[^\s''"<>\\`|]+', ' ', 'g'),
               '(?:^|[\s''"(=,\[@])((?:(?:\d{1,3}\.){3}\d{1,3}|localhost|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}):\d{1,5})\b',
               1)) AS hit
    FROM src WHERE regexp_matches(text, '(?:[A-Za-z0-9]\.[A-Za-z0-9-]+|localhost):\d')
),
urllib AS (
    SELECT src.*, unnest(regexp_extract_all(text, 'host=''([^'']+)'', port=(\d{1,5})', 0)) AS hit
    FROM src WHERE text LIKE '%host=''%port=%'
),
hits AS MATERIALIZED (
    SELECT file_idx, line_no, attempt_id, dag_id, run_id, task_id, map_index, try_number, ts, message,
           regexp_replace(url, '://([^:/@\s]+):([^@/\s]*)@', '://\1:***@') AS url,
           lower(trim(hp.host, '[]')) AS host,
           coalesce(try_cast(nullif(hp.port, '') AS INTEGER),
                    CASE scheme WHEN 'http' THEN 80 WHEN 'ws' THEN 80 WHEN 'https' THEN 443 WHEN 'wss' THEN 443
                                WHEN 's3' THEN 443 WHEN 'gs' THEN 443 WHEN 'ftp' THEN 21 WHEN 'sftp' THEN 22 END) AS port,
           scheme
    FROM url_parsed
    UNION ALL
    SELECT file_idx, line_no, attempt_id, dag_id, run_id, task_id, map_index, try_number, ts, message,
           NULL, lower(regexp_extract(hit, '^(.*):(\d+)$', 1)),
           try_cast(regexp_extract(hit, '^(.*):(\d+)$', 2) AS INTEGER), NULL
    FROM bare
    UNION ALL
    SELECT file_idx, line_no, attempt_id, dag_id, run_id, task_id, map_index, try_number, ts, message,
           NULL, lower(regexp_extract(hit, 'host=''([^'']+)''', 1)),
           try_cast(regexp_extract(hit, 'port=(\d+)', 1) AS INTEGER), NULL
    FROM urllib
)
SELECT DISTINCT h.attempt_id, h.dag_id, h.run_id, h.task_id, h.map_index, h.try_number, h.ts,
       h.url, h.host, h.port, f.log_file, h.line_no, h.message, h.scheme,
       f.rid_prefix || ':' || h.line_no, f.file_id
FROM hits h JOIN _af_files f USING (file_idx)
WHERE f.keep AND h.host IS NOT NULL AND h.host <> ''
  AND (h.port IS NULL OR h.port BETWEEN 1 AND 65535)
  -- "name.py:12" and friends are source locations, not hosts
  AND NOT regexp_matches(h.host, '\.(py|pyc|pyi|log|txt|json|ya?ml|cfg|conf|ini|toml|sql|sh|js|ts|html?|csv|md|rst|c|h|cc|cpp|so|java|rb|go|rs|jar|xml|lock|tmp|out|err|j2|jinja|tpl)$');
