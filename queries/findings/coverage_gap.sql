-- coverage_gap, two subtypes (docs/findings.md "coverage_gap"):
--   no_data  a source delivered nothing for at least gap_threshold of the period while the others did.
--   rejects  an input file of the period whose rejected share of lines exceeds max_reject_rate.
-- It runs before every other detection: egress_bypass and unattributed_egress read _coverage_missing
-- (stretches with no Zscaler / no Airflow coverage) and leave them to not_evaluable.
--
-- The sources audited: zia_web, zpa (user activity, user status, Browser Access and App Connector
-- status: a connector's status proves the ZPA path was there), airflow_tasklog, and
-- airflow_metadata (metadata DB, REST API export, CSV dump, component stdout). A source is expected
-- when it ever delivered a file to this store; ZIA web and Airflow task logs are expected even
-- then when no Zscaler, resp. no Airflow source ever did (a store without them has nothing to audit).
-- reads: zia_web, zpa_user_activity, zpa_user_status, ingest_ledger, task_attempt_sources, _found, rejects, zpa_browser_access, zpa_connector_status
-- creates: _coverage_sources, _coverage_activity, _coverage_gaps
-- hands on: _coverage_missing
CREATE OR REPLACE TEMP TABLE _coverage_sources AS
WITH delivered AS (
    SELECT DISTINCT CASE WHEN source_kind = 'zia_web' THEN 'zia_web'
                         WHEN source_kind IN ('zpa_user_activity', 'zpa_user_status', 'zpa_browser_access',
                                              'zpa_connector_status') THEN 'zpa'
                         WHEN source_kind = 'airflow_tasklog' THEN 'airflow_tasklog'
                         WHEN source_kind LIKE 'airflow\_%' ESCAPE '\' THEN 'airflow_metadata' END AS source
    FROM ingest_ledger
)
SELECT source FROM delivered WHERE source IS NOT NULL
UNION SELECT 'zia_web' WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE source IN ('zia_web', 'zpa'))
UNION SELECT 'airflow_tasklog'
      WHERE NOT EXISTS (SELECT 1 FROM delivered WHERE source IN ('airflow_tasklog', 'airflow_metadata'));

-- When each source delivered, reduced to one row per source and minute (a Zscaler month is
-- millions of records); task attempts count for their whole run.
CREATE OR REPLACE TEMP TABLE _coverage_activity AS
WITH events AS (
    SELECT 'zia_web' AS source, event_time AS s, event_time AS e FROM zia_web
        WHERE event_time >= $since AND event_time < $until
    UNION ALL SELECT 'zpa', event_time, event_time FROM zpa_user_activity
        WHERE event_time >= $since AND event_time < $until
    UNION ALL SELECT 'zpa', event_time, event_time FROM zpa_user_status
        WHERE event_time >= $since AND event_time < $until
    UNION ALL SELECT 'zpa', event_time, event_time FROM zpa_browser_access
        WHERE event_time >= $since AND event_time < $until
    UNION ALL SELECT 'zpa', event_time, event_time FROM zpa_connector_status
        WHERE event_time >= $since AND event_time < $until
    UNION ALL SELECT CASE WHEN source = 'log' THEN 'airflow_tasklog' ELSE 'airflow_metadata' END,
                     greatest(start_time, $since), least(coalesce(end_time, start_time), $until)
        FROM task_attempt_sources
        WHERE start_time < $until AND coalesce(end_time, start_time) >= $since
)
SELECT source, min(s) AS s, max(e) AS e
FROM events
WHERE source IN (SELECT source FROM _coverage_sources)
GROUP BY source, time_bucket(INTERVAL 1 MINUTE, s);

-- A source is held to the stretches in which the others deliver: its silent stretches inside the
-- span of the period in which any expected source delivered (a fleet idle before and after is not a
-- gap), cut down to where another source's delivery witnesses them. A source delivers over its
-- islands: its records with less than gap_threshold between one and the next (two records hours
-- apart witness nothing in between). Zscaler sources are witnessed by every other source; Airflow
-- sources only by the other Airflow sources: Zscaler records the whole company's traffic, and an
-- Airflow fleet idle between its DAG runs while the office browses is not a gap. A source that
-- delivered nothing in the period while another did has one gap over the whole span; when none
-- delivered anything, every expected source has one over the whole period (a bounded period only).
CREATE OR REPLACE TEMP TABLE _coverage_gaps AS
WITH span AS (
    SELECT coalesce(min(s), $since) AS s0, coalesce(max(e), $until) AS e0, count(*) AS n
    FROM _coverage_activity
), edges AS (
    SELECT source, s, e,
           max(e) OVER (PARTITION BY source ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
    FROM _coverage_activity
), silent AS (   -- a stretch shorter than gap_threshold holds no gap (a gap is a part of one)
    SELECT edges.source, coalesce(edges.prev_e, span.s0) AS gap_start, edges.s AS gap_end
    FROM edges, span WHERE edges.s - coalesce(edges.prev_e, span.s0) >= $gap_threshold
    UNION ALL
    SELECT edges.source, max(edges.e), min(span.e0)
    FROM edges, span GROUP BY edges.source HAVING min(span.e0) - max(edges.e) >= $gap_threshold
), islands AS (
    SELECT source, min(s) AS s, max(e) AS e
    FROM (SELECT source, s, e,
                 count(*) FILTER (WHERE prev_e IS NULL OR s - prev_e >= $gap_threshold)
                     OVER (PARTITION BY source ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island
          FROM edges)
    GROUP BY source, island
), witnessed AS (
    SELECT g.source, g.gap_start AS stretch, greatest(g.gap_start, i.s) AS s, least(g.gap_end, i.e) AS e
    FROM silent g JOIN islands i
      ON i.source <> g.source AND i.s < g.gap_end AND i.e > g.gap_start
     AND (g.source IN ('zia_web', 'zpa') OR i.source IN ('airflow_tasklog', 'airflow_metadata'))
), pieces AS (
    SELECT *, max(e) OVER (PARTITION BY source, stretch ORDER BY s, e
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
    FROM witnessed
), gaps AS (
    SELECT source, min(s) AS gap_start, max(e) AS gap_end
    FROM (SELECT *, count(*) FILTER (WHERE s > prev_e)
                        OVER (PARTITION BY source, stretch ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS piece
          FROM pieces)
    GROUP BY source, stretch, piece
    UNION ALL
    SELECT c.source, span.s0, span.e0
    FROM _coverage_sources c, span
    WHERE c.source NOT IN (SELECT source FROM _coverage_activity)
      AND (span.n > 0 OR ($since > TIMESTAMPTZ '1970-01-02 00:00:00+00' AND $until < TIMESTAMPTZ '9000-01-01 00:00:00+00'))
)
SELECT source,
       CASE source WHEN 'zia_web' THEN 'ZIA web' WHEN 'zpa' THEN 'ZPA'
                   WHEN 'airflow_tasklog' THEN 'Airflow task logs' ELSE 'Airflow metadata' END AS label,
       gap_start, gap_end
FROM gaps
WHERE gap_end - gap_start >= $gap_threshold;

-- Stretches with no Zscaler coverage (side zscaler: every expected Zscaler request source silent)
-- and with no Airflow coverage (side airflow: every expected Airflow source silent).
CREATE OR REPLACE TEMP TABLE _coverage_missing AS
WITH g AS (
    SELECT *, CASE WHEN source IN ('zia_web', 'zpa') THEN 'zscaler' ELSE 'airflow' END AS side FROM _coverage_gaps
), k AS (
    SELECT CASE WHEN source IN ('zia_web', 'zpa') THEN 'zscaler' ELSE 'airflow' END AS side, count(*) AS n
    FROM _coverage_sources GROUP BY ALL
)
SELECT g.side, g.gap_start AS s, g.gap_end AS e, g.label FROM g JOIN k USING (side) WHERE k.n = 1
UNION ALL
SELECT a.side, greatest(a.gap_start, b.gap_start), least(a.gap_end, b.gap_end), a.label || ' and ' || b.label
FROM g a JOIN g b ON a.side = b.side AND a.source < b.source AND a.gap_start < b.gap_end AND b.gap_start < a.gap_end
JOIN k ON k.side = a.side
WHERE k.n = 2;

-- skip when empty: _coverage_gaps
INSERT INTO _found
SELECT 'coverage_gap', 'no_data',
       concat_ws('|', 'no_data', source, strftime(gap_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')),
       gap_start, NULL, NULL, NULL, NULL, NULL,
       label || ' delivered no record from ' || strftime(gap_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
         || ' to ' || strftime(gap_end AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') || ' ('
         || CAST(round(epoch(gap_end - gap_start) / 60) AS BIGINT) || ' min); checks that need it are not evaluable for that stretch',
       ['source:' || source], 0, gap_start, gap_end, NULL
FROM _coverage_gaps;

INSERT INTO _found
SELECT 'coverage_gap', 'rejects', concat_ws('|', 'rejects', l.file_id),
       coalesce(l.first_event, $since), NULL, NULL, NULL, NULL, NULL,
       l.path || ': ' || l.rows_rejected || ' of ' || l.lines_read || ' line(s) rejected ('
         || printf('%.1f', 100.0 * l.rows_rejected / l.lines_read) || '%, above max_reject_rate '
         || printf('%.1f', 100.0 * $max_reject_rate) || '%)'
         || coalesce('; most frequent reason: ' || (SELECT mode(r.reason) FROM rejects r WHERE r.file_id = l.file_id), ''),
       ['file:' || l.sha256], l.rows_rejected, l.first_event, l.last_event, NULL
FROM ingest_ledger l
WHERE l.lines_read > 0 AND l.rows_rejected > $max_reject_rate * l.lines_read
  AND coalesce(l.status, 'loaded') <> 'replaced'
  AND ((l.first_event < $until AND l.last_event >= $since)
       OR (l.first_event IS NULL AND l.finished_at >= $since AND l.finished_at < $until + INTERVAL 1 DAY));
