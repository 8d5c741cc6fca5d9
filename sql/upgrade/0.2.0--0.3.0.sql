-- pgtrack 0.2.0 -> 0.3.0: the hand-written part of the upgrade. What follows it in the generated
-- script (every function, CREATE OR REPLACE) cannot change a signature, so functions whose
-- parameters or result changed are dropped here first and created again by the generated part;
-- data-table changes are explicit ALTERs (setup() cannot run inside an extension script).

-- The metric writers take add_missing (a metric nobody declared gets its column on first use).
DROP FUNCTION pgtrack.run_add_metrics(bigint, bigint, double precision, jsonb, boolean, integer);
DROP FUNCTION pgtrack.run_add_metrics_batch(bigint, jsonb, boolean, integer);
-- claim_next() takes retry_failed.
DROP FUNCTION pgtrack.claim_next(bigint, interval, text);
-- experiment_summary() reports lost runs.
DROP FUNCTION pgtrack.experiment_summary(bigint);
-- Run-id functions take the run's experiment (optional: checked, and one shard on Citus).
DROP FUNCTION pgtrack.run_start(bigint, timestamptz);
DROP FUNCTION pgtrack.run_stop(bigint, pgtrack.runstatus, text, integer);
DROP FUNCTION pgtrack.heartbeat(bigint, integer);
DROP FUNCTION pgtrack._lease_check_failed(bigint, integer);
DROP FUNCTION pgtrack._registration(bigint, boolean, boolean, boolean);
DROP FUNCTION pgtrack._apply_annotating(bigint, jsonb);
-- The writers' generator looks every column's type up in one query: _metric_value_expr takes the
-- qualified type.
DROP FUNCTION pgtrack._metric_value_expr(text, name, oid);
-- _validate_label() takes a length limit (an overload would make two-argument calls ambiguous).
DROP FUNCTION pgtrack._validate_label(text, text);

-- The data tables' changes are the 0.3.0 layout step (sql/20_setup/layout.sql), which setup() runs
-- too: the tail of this script (finish.sql) runs it, once the functions exist.
