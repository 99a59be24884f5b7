-- Hosts taken from the URL when a web feed carries none (issue 13): a flag per row and a count
-- per file in the ledger.
ALTER TABLE zia_web ADD COLUMN host_derived BOOLEAN DEFAULT false;
ALTER TABLE ingest_ledger ADD COLUMN hosts_derived BIGINT DEFAULT 0;
