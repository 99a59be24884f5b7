-- The store's lake parts of attribution rows named below another root: the lake was moved there
-- (Lake.adopt_attribution_parts checked every part is there).
-- reads: attribution_parts
UPDATE attribution_parts SET lake = $lake WHERE lake <> $lake;
