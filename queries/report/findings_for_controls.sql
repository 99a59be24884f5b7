-- The open findings of each SOC 2 criterion in $controls, most severe first (top $limit of each):
-- one statement for all the criteria, the rows of each in its order (k).
SELECT control, finding_id, kind, title, severity, event_time, dag_id, task_id, try_number, login, host, detail,
       exception_ticket, exception_expires, exception_note
FROM (
    SELECT c.control, f.*,
           row_number() OVER (PARTITION BY c.control
                              ORDER BY list_position($severity_order, f.severity) NULLS LAST,
                                       f.event_time NULLS FIRST, f.finding_id) AS k
    FROM unnest($controls) AS c(control)
    JOIN findings_in_period($since, $until) f ON list_contains(f.controls, c.control)
    WHERE f.status <> 'accepted'
)
WHERE k <= $limit
ORDER BY control, k;
