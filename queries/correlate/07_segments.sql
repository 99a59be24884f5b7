-- Step 2: each attempt listed in the segments it spans (rows ~ attempts x concurrency); how many
-- attempts run in each segment is counted where it is read (08_candidates).
-- reads: _windows, _bounds
-- creates: _segments
CREATE OR REPLACE TEMP TABLE _segments AS
SELECT w.pk, CAST(unnest(generate_series(b1.k, b2.k - 1)) AS INTEGER) AS k, w.aidx
FROM _windows w
JOIN _bounds b1 ON b1.pk = w.pk AND b1.t = w.lo
JOIN _bounds b2 ON b2.pk = w.pk AND b2.t = w.hi_x;
