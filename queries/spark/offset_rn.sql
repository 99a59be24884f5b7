-- Job 2 of the Spark engine: this task's request numbers (rn, from 1 in every task) moved to a
-- range of its own, so that rn stays a key of the driver's _attr, which unites every task's part.
-- reads: _attr
UPDATE _attr SET rn = rn + $offset;
