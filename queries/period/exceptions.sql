-- Accepted risks of the period [$since, $until), per exception of the identity map as the nightly
-- analyses applied it: nights it was valid and accepted findings, and nights after its expiry on
-- which it still matched (those findings were open: deviations). The expired matches are read
-- from exception_note ("exception #N (TICKET, approved by X) matches but expired on DATE").
WITH f AS (
    SELECT a.night, f.kind, f.status, f.subject_id,
           CASE WHEN f.status = 'accepted' THEN f.exception_ticket
                ELSE regexp_extract(f.exception_note, '^exception #\d+ \((.*), approved by ', 1) END AS ticket,
           CASE WHEN f.status = 'accepted' THEN f.exception_approver
                ELSE regexp_extract(f.exception_note, ', approved by (.*)\) matches but expired on ', 1) END AS approver,
           CASE WHEN f.status = 'accepted' THEN f.exception_expires
                ELSE TRY_CAST(regexp_extract(f.exception_note, 'expired on (\d{4}-\d{2}-\d{2})', 1) AS DATE) END AS expires,
           f.exception_reason
    FROM findings f JOIN nightly_analyses a ON a.analysis_id = f.analysis_id
    WHERE a.period_start >= $since AND a.period_start < $until
      AND (f.status = 'accepted' OR f.exception_note IS NOT NULL)
)
SELECT ticket, min(approver) AS approver, max(exception_reason) AS reason, max(expires) AS expires,
       string_agg(DISTINCT kind, ' ' ORDER BY kind) AS kinds,
       count(DISTINCT subject_id) AS subjects,
       count(DISTINCT night) FILTER (WHERE status = 'accepted') AS nights_valid,
       min(night) FILTER (WHERE status = 'accepted') AS first_valid_night,
       max(night) FILTER (WHERE status = 'accepted') AS last_valid_night,
       count(*) FILTER (WHERE status = 'accepted') AS findings_accepted,
       count(DISTINCT night) FILTER (WHERE status <> 'accepted') AS nights_after_expiry,
       min(night) FILTER (WHERE status <> 'accepted') AS first_night_after_expiry,
       count(*) FILTER (WHERE status <> 'accepted') AS deviations_after_expiry
FROM f
WHERE ticket IS NOT NULL AND ticket <> ''
GROUP BY ticket
ORDER BY ticket;
