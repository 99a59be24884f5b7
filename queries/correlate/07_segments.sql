-- Step 2: each attempt listed in the segments it spans (rows ~ attempts x concurrency), and per
-- segment how many attempts run in it (most segments have one: no narrowing needed).
-- reads: _windows, _bounds
-- creates: _segments, _segstat
CREATE OR REPLACE TEMP TABLE _segments AS
SELECT w.pk, CAST(unnest(generate_series(b1.k, b2.k - 1)) AS INTEGER) AS k, w.aidx
FROM _windows w
JOIN _bounds b1 ON b1.pk = w.pk AND b1.t = w.lo
JOIN _bounds b2 ON b2.pk = w.pk AND b2.t = w.hi_x;

CREATE OR REPLACE TEMP TABLE _segstat AS
SELECT b.pk, b.t, b.k, count(s.aidx) AS n, min(s.aidx) AS a
FROM _bounds b LEFT JOIN _segments s ON s.pk = b.pk AND s.k = b.k
GROUP BY b.pk, b.t, b.k;
