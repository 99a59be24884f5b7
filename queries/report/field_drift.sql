-- Feed-template drift: files whose fields differed from the declared NSS feed template.
SELECT coalesce(pp.shown, l.path) AS path, source_kind, format, field_drift, first_event
FROM ingest_ledger l
LEFT JOIN _pack_paths pp ON pp.path = l.path
WHERE field_drift IS NOT NULL
  AND ((first_event < $until AND last_event >= $since) OR first_event IS NULL)
ORDER BY source_kind, 1, sha256
LIMIT $limit;
