-- Input-file paths as the pack shows them: relative to their source root, the root named once
-- ($names[i] for the directory $roots[i]), so no directory of the machine that built the pack
-- appears in it. The evidence queries show `shown` in place of the stored path.
CREATE OR REPLACE TEMP TABLE _pack_paths AS
WITH roots AS (
    SELECT unnest($roots) AS root, unnest($names) AS name
), paths AS (
    SELECT DISTINCT path FROM ingest_ledger
), matched AS (
    SELECT p.path, r.name || '/' || substr(p.path, length(r.root) + 2) AS shown,
           row_number() OVER (PARTITION BY p.path ORDER BY length(r.root) DESC) AS k
    FROM paths p JOIN roots r ON starts_with(p.path, r.root || '/')
)
SELECT p.path, coalesce(m.shown, p.path) AS shown
FROM paths p LEFT JOIN matched m ON m.path = p.path AND m.k = 1;
