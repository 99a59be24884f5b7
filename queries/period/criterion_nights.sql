-- Each SOC 2 criterion ($criteria) on each night of the period [$since, $until): its result
--   not evaluable  no nightly analysis, or a source delivered nothing for part of the night (reason)
--   deviation      the night's analysis raised open findings tagged with the criterion
--   operated       evaluated, no open finding (accepted findings are accepted risks, counted apart)
-- An exception that expired is no longer valid from the day after its expiry: the finding it
-- covered is open again, a deviation (queries/findings/_finalize.sql).
-- sample_rank: the night's rank in the criterion's period sample, by md5('<seed>:<criterion>:<night>').
WITH nights AS (
    SELECT CAST(g.d AS DATE) AS night
    FROM generate_series(CAST($since AT TIME ZONE 'UTC' AS TIMESTAMP),
                         CAST($until AT TIME ZONE 'UTC' AS TIMESTAMP) - INTERVAL 1 DAY, INTERVAL 1 DAY) AS g(d)
), crit AS (
    SELECT unnest($criteria::VARCHAR[]) AS criterion
), per AS (
    SELECT f.analysis_id, c.control AS criterion,
           count(*) FILTER (WHERE f.status <> 'accepted') AS deviations,
           count(*) FILTER (WHERE f.status = 'accepted') AS accepted,
           count(*) FILTER (WHERE f.status <> 'accepted' AND f.exception_note IS NOT NULL) AS expired_exception,
           string_agg(DISTINCT f.kind, ' ' ORDER BY f.kind) FILTER (WHERE f.status <> 'accepted') AS kinds
    FROM findings f, unnest(f.controls) AS c(control)
    WHERE f.analysis_id IN (SELECT analysis_id FROM nightly_analyses)
    GROUP BY ALL
)
SELECT crit.criterion, n.night, a.analysis_id,
       CASE WHEN a.analysis_id IS NULL OR len(a.gap_sources) > 0 THEN 'not evaluable'
            WHEN coalesce(p.deviations, 0) > 0 THEN 'deviation'
            ELSE 'operated' END AS result,
       CASE WHEN a.analysis_id IS NULL THEN 'no nightly analysis'
            WHEN len(a.gap_sources) > 0 THEN 'coverage gap: ' || array_to_string(a.gap_sources, ', ') END AS reason,
       coalesce(p.deviations, 0) AS deviations, coalesce(p.accepted, 0) AS accepted_risks,
       coalesce(p.expired_exception, 0) AS expired_exception_deviations, p.kinds AS deviation_kinds,
       row_number() OVER (PARTITION BY crit.criterion
                          ORDER BY md5(CAST($seed AS VARCHAR) || ':' || crit.criterion || ':' || strftime(n.night, '%Y-%m-%d')),
                                   n.night) AS sample_rank
FROM crit CROSS JOIN nights n
LEFT JOIN nightly_analyses a ON a.night = n.night
LEFT JOIN per p ON p.analysis_id = a.analysis_id AND p.criterion = crit.criterion
ORDER BY crit.criterion, n.night;
