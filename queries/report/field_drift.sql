-- Feed-template drift: files whose fields differed from the declared NSS feed template.
SELECT path, source_kind, format, field_drift, first_event
FROM ingest_ledger
WHERE field_drift IS NOT NULL
  AND ((first_event < $until AND last_event >= $since) OR first_event IS NULL)
ORDER BY source_kind, path, sha256
LIMIT $limit;
