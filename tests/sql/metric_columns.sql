-- add_metric, drop_metric, rename_metric, metric_columns, add_run_column: DDL with validated names.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(27);

SELECT is(pgtrack.add_metric('val_loss'), true, 'add_metric adds a column');
SELECT is(pgtrack.add_metric('val_loss'), false, 'same name and type again: false');
SELECT is(pgtrack.add_metric('val_loss', 'double precision'), false, 'explicit same type: false');
SELECT throws_ok($$SELECT pgtrack.add_metric('val_loss', 'integer')$$, 'PT005', NULL, 'other type: PT005');
SELECT is(pgtrack.add_metric('epoch_time', 'interval', 'wall time per epoch'), true, 'add_metric with type and comment');
SELECT results_eq($$SELECT name, type, comment FROM pgtrack.metric_columns()$$,
    $$VALUES ('val_loss'::text, 'double precision'::regtype, NULL::text), ('epoch_time', 'interval', 'wall time per epoch')$$,
    'metric_columns lists name, type, comment in order');
SELECT throws_ok($$SELECT pgtrack.add_metric('Val')$$, 'PT003', NULL, 'uppercase name: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('1x')$$, 'PT003', NULL, 'leading digit: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('a; drop table pgtrack.runs; --')$$, 'PT003', NULL, 'injection attempt: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('x"y')$$, 'PT003', NULL, 'quote in name: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric(repeat('a', 64))$$, 'PT003', NULL, '64 bytes: PT003');
SELECT lives_ok($$SELECT pgtrack.add_metric(repeat('a', 63))$$, '63 bytes is fine');
SELECT throws_ok($$SELECT pgtrack.add_metric('step')$$, 'PT003', NULL, 'reserved name step: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric(NULL)$$, 'PT003', NULL, 'NULL name: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('m', 'record')$$, 'PT003', NULL, 'pseudo type: PT003');
SELECT has_table('pgtrack', 'runs', 'runs survived the injection attempt');

-- rename / drop
SELECT lives_ok($$SELECT pgtrack.rename_metric('epoch_time', 'epoch_wall')$$, 'rename_metric');
SELECT has_column('pgtrack', 'metrics', 'epoch_wall', 'renamed column exists');
SELECT throws_ok($$SELECT pgtrack.rename_metric('nope', 'x')$$, 'PT003', NULL, 'rename unknown: PT003');
SELECT throws_ok($$SELECT pgtrack.rename_metric('epoch_wall', 'val_loss')$$, 'PT005', NULL, 'rename onto existing: PT005');
SELECT throws_ok($$SELECT pgtrack.rename_metric('epoch_wall', 'Bad Name')$$, 'PT003', NULL, 'rename to invalid: PT003');
SELECT run_id AS r FROM (SELECT pgtrack.create_run(pgtrack.experiment('mc')) AS run_id) s \gset
SELECT pgtrack.run_add_metrics(:r, 0, 0, '{"val_loss": 1.5}');
SELECT throws_ok($$SELECT pgtrack.drop_metric('val_loss')$$, 'PT005', NULL, 'drop refused while values exist');
SELECT lives_ok($$SELECT pgtrack.drop_metric('val_loss', force => true)$$, 'drop with force');
SELECT hasnt_column('pgtrack', 'metrics', 'val_loss', 'dropped');
SELECT throws_ok($$SELECT pgtrack.drop_metric('val_loss')$$, 'PT003', NULL, 'drop unknown: PT003');

-- add_run_column
SELECT is(pgtrack.add_run_column('host', 'text', indexed => true), true, 'add_run_column adds and indexes');
SELECT throws_ok($$SELECT pgtrack.add_run_column('status', 'text')$$, 'PT003', NULL, 'run column named like a builtin: PT003');

SELECT * FROM finish();
ROLLBACK;
