-- Sort-merge interval join, step 1: every window edge per partition, numbered in time order.
-- Segment k of a partition is [t_k, t_k+1): the set of running attempts is constant inside it.
-- reads: _windows
-- creates: _bounds
CREATE OR REPLACE TEMP TABLE _bounds AS
SELECT pk, t, CAST(row_number() OVER (PARTITION BY pk ORDER BY t) AS INTEGER) AS k
FROM (SELECT pk, lo AS t FROM _windows UNION SELECT pk, hi_x AS t FROM _windows);
