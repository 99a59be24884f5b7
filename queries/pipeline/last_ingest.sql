-- When the store last took in a file: the pack's "generated at" (a re-run that ingests nothing
-- new therefore renders byte-identical files).
-- reads: ingest_ledger
SELECT max(finished_at) FROM ingest_ledger;
