-- Schema 5: findings across nights (issue 16, docs/findings.md "Lifecycle").
--
-- findings keeps one row per finding per analysis: its key becomes (finding_id, analysis_id), so
-- the analysis of one night no longer deletes the row another night's analysis wrote for the same
-- finding. subject_id names what a finding is about across nights (kind, subtype and subject:
-- the DAG task, login, host, connection, worker or source; not the run or try, which change every
-- night): the lifecycle of a finding is that of its subject_id.
CREATE OR REPLACE MACRO finding_subject(kind, subtype, dag_id, task_id, map_index, worker, login, host, conn_id,
                                        evidence_ids) AS
    concat_ws('|', kind, coalesce(subtype, ''),
              CASE WHEN kind = 'coverage_gap' THEN coalesce(evidence_ids[1], '')
                   WHEN dag_id IS NOT NULL
                       THEN concat_ws('|', 'dag=' || dag_id, 'task=' || coalesce(task_id, ''),
                                      'map=' || coalesce(CAST(map_index AS VARCHAR), '-1'))
                   ELSE 'worker=' || coalesce(lower(worker), '') END,
              'login=' || coalesce(lower(login), ''), 'host=' || coalesce(lower(host), ''),
              'conn=' || coalesce(conn_id, ''));

ALTER TABLE findings RENAME TO findings_v4;
CREATE TABLE findings (
    finding_id      VARCHAR NOT NULL,        -- first 16 hex of sha256(kind|identifying evidence)
    kind            VARCHAR NOT NULL,
    subtype         VARCHAR,
    severity        VARCHAR NOT NULL,
    controls        VARCHAR[],
    title           VARCHAR,
    status          VARCHAR NOT NULL DEFAULT 'open',   -- open | accepted
    event_time      TIMESTAMPTZ,
    attempt_id      VARCHAR,
    dag_id          VARCHAR,
    run_id          VARCHAR,
    task_id         VARCHAR,
    map_index       INTEGER,
    try_number      INTEGER,
    worker          VARCHAR,
    login           VARCHAR,
    host            VARCHAR,
    conn_id         VARCHAR,
    detail          VARCHAR,
    evidence_ids    VARCHAR[],
    evidence_count  BIGINT,
    gap_start       TIMESTAMPTZ,
    gap_end         TIMESTAMPTZ,
    gap_seconds     DOUBLE,
    attempts_hit    VARCHAR[],
    exception_approver VARCHAR,
    exception_reason   VARCHAR,
    exception_ticket   VARCHAR,
    exception_expires  DATE,
    exception_note     VARCHAR,
    analysis_id     VARCHAR NOT NULL,
    subject         VARCHAR,                 -- finding_subject(...): what the finding is about across nights
    subject_id      VARCHAR,                 -- first 16 hex of sha256(subject)
    PRIMARY KEY (finding_id, analysis_id)
);
INSERT INTO findings
SELECT f.*, s.subject, substr(sha256(s.subject), 1, 16)
FROM (SELECT * EXCLUDE (analysis_id), coalesce(analysis_id, '') AS analysis_id FROM findings_v4) f,
     LATERAL (SELECT finding_subject(f.kind, f.subtype, f.dag_id, f.task_id, f.map_index, f.worker, f.login,
                                     f.host, f.conn_id, f.evidence_ids) AS subject) s;
DROP TABLE findings_v4;

-- The nightly history: analyses of exactly one UTC day [00:00, 00:00 + 1 day). gap_sources lists
-- the sources with a no_data coverage_gap that night: the other checks were not complete then.
CREATE OR REPLACE VIEW nightly_analyses AS
SELECT r.analysis_id, CAST(r.period_start AT TIME ZONE 'UTC' AS DATE) AS night, r.period_start, r.period_end,
       r.finished_at, r.identity_map_sha256, r.worker_requests, r.findings, r.not_evaluable,
       coalesce((SELECT list_sort(list(DISTINCT replace(f.evidence_ids[1], 'source:', '')))
                 FROM findings f
                 WHERE f.analysis_id = r.analysis_id AND f.kind = 'coverage_gap' AND f.subtype = 'no_data'),
                []) AS gap_sources
FROM analysis_runs r
WHERE r.period_end - r.period_start = INTERVAL 1 DAY
  AND CAST(r.period_start AT TIME ZONE 'UTC' AS TIME) = TIME '00:00:00';

-- Each finding subject on each night of [d_since, d_until) (dates; NULL = from the first, resp.
-- to the last nightly analysis) from the night it was first seen in that stretch:
--   observed   open | accepted when a finding of the subject was raised that night, else NULL
--   event      observed, else 'resolved' when the night's evidence was complete (a nightly
--              analysis ran and, for kinds other than coverage_gap, no source had a no_data
--              coverage_gap), else NULL: a night that could not show the finding resolves nothing
--   status     the latest event so far (open | accepted | resolved)
--   not_evaluable_reason  why a night without the finding could not resolve it
CREATE OR REPLACE MACRO finding_nights(d_since, d_until) AS TABLE
WITH bounds AS (
    SELECT coalesce(CAST(d_since AS DATE), (SELECT min(night) FROM nightly_analyses)) AS lo,
           coalesce(CAST(d_until AS DATE), (SELECT max(night) + 1 FROM nightly_analyses)) AS hi
), nights AS (
    SELECT CAST(g.d AS DATE) AS night, a.analysis_id, a.gap_sources
    FROM bounds, generate_series(CAST(bounds.lo AS TIMESTAMP), CAST(bounds.hi AS TIMESTAMP) - INTERVAL 1 DAY,
                                 INTERVAL 1 DAY) AS g(d)
    LEFT JOIN nightly_analyses a ON a.night = CAST(g.d AS DATE)
), seen AS (
    SELECT f.subject_id, n.night,
           CASE WHEN bool_or(f.status <> 'accepted') THEN 'open' ELSE 'accepted' END AS observed,
           count(*) AS findings,
           min(f.finding_id) AS finding_id
    FROM findings f JOIN nights n ON n.analysis_id = f.analysis_id
    WHERE f.subject_id IS NOT NULL
    GROUP BY ALL
), subjects AS (
    SELECT f.subject_id, min(n.night) AS first_seen,
           arg_max(f.kind, n.night) AS kind
    FROM findings f JOIN nights n ON n.analysis_id = f.analysis_id
    WHERE f.subject_id IS NOT NULL
    GROUP BY f.subject_id
), grid AS (
    SELECT s.subject_id, s.kind, n.night, n.analysis_id, o.observed, coalesce(o.findings, 0) AS findings,
           o.finding_id,
           CASE WHEN o.observed IS NOT NULL THEN o.observed
                WHEN n.analysis_id IS NULL THEN NULL
                WHEN s.kind <> 'coverage_gap' AND len(n.gap_sources) > 0 THEN NULL
                ELSE 'resolved' END AS event,
           CASE WHEN o.observed IS NOT NULL THEN NULL
                WHEN n.analysis_id IS NULL THEN 'no nightly analysis'
                WHEN s.kind <> 'coverage_gap' AND len(n.gap_sources) > 0
                    THEN 'coverage gap: ' || array_to_string(n.gap_sources, ', ')
           END AS not_evaluable_reason
    FROM subjects s JOIN nights n ON n.night >= s.first_seen
    LEFT JOIN seen o ON o.subject_id = s.subject_id AND o.night = n.night
)
SELECT subject_id, kind, night, analysis_id, observed, findings, finding_id, event,
       last_value(event IGNORE NULLS) OVER (PARTITION BY subject_id ORDER BY night
                                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS status,
       not_evaluable_reason
FROM grid;

-- Status history: one row per change of a subject's status, from_night inclusive, to_night
-- exclusive (NULL: still so at the end of the stretch).
CREATE OR REPLACE MACRO finding_history_between(d_since, d_until) AS TABLE
WITH n AS (
    SELECT *, lag(status) OVER (PARTITION BY subject_id ORDER BY night) AS prev FROM finding_nights(d_since, d_until)
), c AS (
    SELECT subject_id, status, night AS from_night FROM n WHERE prev IS DISTINCT FROM status
)
SELECT subject_id, status, from_night,
       lead(from_night) OVER (PARTITION BY subject_id ORDER BY from_night) AS to_night
FROM c;

-- One row per finding subject: first and last night seen, its status at the end of the stretch,
-- the night it was resolved (the first night of its final 'resolved' run) and the days from
-- first seen to resolved; nights open, accepted and not evaluable; how often it came back.
CREATE OR REPLACE MACRO finding_lifecycle_between(d_since, d_until) AS TABLE
WITH n AS (
    SELECT *, lag(status) OVER (PARTITION BY subject_id ORDER BY night) AS prev FROM finding_nights(d_since, d_until)
), agg AS (
    SELECT subject_id,
           min(night) FILTER (WHERE observed IS NOT NULL) AS first_seen,
           max(night) FILTER (WHERE observed IS NOT NULL) AS last_seen,
           arg_max(status, night) AS status,
           max(night) FILTER (WHERE status = 'resolved' AND prev IS DISTINCT FROM 'resolved') AS resolved_start,
           count(*) FILTER (WHERE observed = 'open') AS nights_open,
           count(*) FILTER (WHERE observed = 'accepted') AS nights_accepted,
           count(*) FILTER (WHERE event IS NULL) AS nights_not_evaluable,
           count(*) FILTER (WHERE prev = 'resolved' AND status <> 'resolved') AS reopened,
           max(night) AS through
    FROM n GROUP BY subject_id
), latest AS (
    SELECT f.subject_id, arg_max(f.kind, (a.night, f.finding_id)) AS kind,
           arg_max(f.subtype, (a.night, f.finding_id)) AS subtype,
           arg_max(f.severity, (a.night, f.finding_id)) AS severity,
           arg_max(f.controls, (a.night, f.finding_id)) AS controls,
           arg_max(f.title, (a.night, f.finding_id)) AS title,
           arg_max(f.subject, (a.night, f.finding_id)) AS subject,
           arg_max(f.dag_id, (a.night, f.finding_id)) AS dag_id,
           arg_max(f.task_id, (a.night, f.finding_id)) AS task_id,
           arg_max(f.worker, (a.night, f.finding_id)) AS worker,
           arg_max(f.login, (a.night, f.finding_id)) AS login,
           arg_max(f.host, (a.night, f.finding_id)) AS host,
           arg_max(f.conn_id, (a.night, f.finding_id)) AS conn_id,
           arg_max(f.exception_ticket, (a.night, f.finding_id)) AS exception_ticket,
           arg_max(f.exception_expires, (a.night, f.finding_id)) AS exception_expires,
           arg_max(f.detail, (a.night, f.finding_id)) AS last_detail
    FROM findings f JOIN nightly_analyses a ON a.analysis_id = f.analysis_id
    WHERE f.subject_id IN (SELECT subject_id FROM agg)
      AND a.night >= coalesce(CAST(d_since AS DATE), DATE '0001-01-01')
      AND a.night < coalesce(CAST(d_until AS DATE), DATE '9999-12-31')
    GROUP BY f.subject_id
)
SELECT l.subject_id, l.kind, l.subtype, l.severity, l.controls, l.title, l.subject, l.dag_id, l.task_id,
       l.worker, l.login, l.host, l.conn_id, agg.first_seen, agg.last_seen, agg.status,
       CASE WHEN agg.status = 'resolved' THEN agg.resolved_start END AS resolved_on,
       CASE WHEN agg.status = 'resolved' THEN agg.resolved_start - agg.first_seen END AS days_to_resolve,
       agg.nights_open, agg.nights_accepted, agg.nights_not_evaluable, agg.reopened, agg.through,
       l.exception_ticket, l.exception_expires, l.last_detail
FROM agg JOIN latest l USING (subject_id);

CREATE OR REPLACE VIEW finding_history AS SELECT * FROM finding_history_between(NULL, NULL);
CREATE OR REPLACE VIEW finding_lifecycle AS SELECT * FROM finding_lifecycle_between(NULL, NULL);
