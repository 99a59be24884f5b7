-- The most frequent reason among one file's rejects, with the values quoted in it blanked out
-- ("event time: unrecognised time \"x\"" and "... \"y\"" count as one reason). Ties: the
-- alphabetically first, so the ledger row is the same on every re-run.
-- reads: rejects
SELECT regexp_replace(reason, '"(?:[^"\\]|\\.)*"', '"…"', 'g') AS reason
FROM rejects
WHERE file_id = $file_id
GROUP BY 1
ORDER BY count(*) DESC, 1
LIMIT 1;
