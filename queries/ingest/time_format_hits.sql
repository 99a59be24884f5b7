-- How many of the sampled event times (a list) parse with one strptime format.
-- reads: -
SELECT count(try_strptime(v, $format)) FROM (SELECT unnest($values) AS v);
