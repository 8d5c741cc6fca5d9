-- pgtrack 0.1.0 -> 0.2.0: the hand-written part of the upgrade. What follows it in the generated
-- script (every function, CREATE OR REPLACE) cannot change a signature, so functions whose
-- parameters changed are dropped here first and created again by the generated part.

-- Metric writers take attempt (a fenced-off worker gets PT004 instead of overwriting the new attempt).
DROP FUNCTION pgtrack.run_add_metrics(bigint, bigint, double precision, jsonb, boolean);
DROP FUNCTION pgtrack.run_add_metrics_batch(bigint, jsonb, boolean);
-- experiment() takes float_precision; drop_identifying() takes force.
DROP FUNCTION pgtrack.experiment(text, text, text[]);
DROP FUNCTION pgtrack.drop_identifying(bigint, text);
-- setup() takes metrics_partitions.
DROP FUNCTION pgtrack.setup();
-- The generated (non-member) writers of 0.1.0 had no attempt parameter; setup() at the end of this
-- script generates the new ones.
DROP FUNCTION IF EXISTS pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean);
DROP FUNCTION IF EXISTS pgtrack._metrics_write_batch(bigint, jsonb, boolean);
-- The per-experiment advisory lock is replaced by row locks any role cannot take (10_internal/locks.sql).
DROP FUNCTION pgtrack._lock_registry(bigint, boolean);
