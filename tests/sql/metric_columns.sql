-- add_metric, drop_metric, rename_metric, metric_columns, add_run_column: DDL with validated names.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(37);

SELECT is(pgtrack.add_metric('val_loss'), true, 'add_metric adds a column');
SELECT is(pgtrack.add_metric('val_loss'), false, 'same name and type again: false');
SELECT is(pgtrack.add_metric('val_loss', 'double precision'), false, 'explicit same type: false');
SELECT throws_ok($$SELECT pgtrack.add_metric('val_loss', 'integer')$$, 'PT005', NULL, 'other type: PT005');
SELECT is(pgtrack.add_metric('epoch_time', 'interval', 'wall time per epoch'), true, 'add_metric with type and comment');
SELECT results_eq($$SELECT name, type, comment FROM pgtrack.metric_columns()$$,
    $$VALUES ('val_loss'::text, 'double precision'::regtype, NULL::text), ('epoch_time', 'interval', 'wall time per epoch')$$,
    'metric_columns lists name, type, comment in order');
-- Names as frameworks write them are quoted columns (0.3.0); hostile text stays a column name.
SELECT is(pgtrack.add_metric('Val'), true, 'upper case: its own column, distinct from val');
SELECT is(pgtrack.add_metric('1x'), true, 'leading digit is fine as a quoted name');
SELECT is(pgtrack.add_metric('a; drop table pgtrack.runs; --'), true, 'injection attempt is just a (quoted) column name');
SELECT is(pgtrack.add_metric('x"y'), true, 'a quote in the name');
SELECT is(pgtrack.add_metric('train/loss'), true, 'train/loss');
SELECT is(pgtrack.add_metric('val/acc@1'), true, 'val/acc@1');
SELECT is(pgtrack.add_metric('lr-AdamW'), true, 'lr-AdamW');
SELECT is(pgtrack.add_metric('eval loss.mean'), true, 'spaces and dots');
SELECT ok(ARRAY(SELECT name FROM pgtrack.metric_columns()) @> ARRAY['Val', '1x', 'x"y', 'train/loss', 'val/acc@1', 'lr-AdamW', 'eval loss.mean'],
          'metric_columns lists the exact names');
SELECT throws_ok($$SELECT pgtrack.add_metric(E'a\tb')$$, 'PT003', NULL, 'control character: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric(' loss')$$, 'PT003', NULL, 'leading space: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('')$$, 'PT003', NULL, 'empty name: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('xmin')$$, 'PT003', NULL, 'a system column name: PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('run_id')$$, 'PT003', NULL, 'one of the table''s own columns: PT003');
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
SELECT throws_ok($$SELECT pgtrack.rename_metric('epoch_wall', E'bad\nname')$$, 'PT003', NULL, 'rename to invalid: PT003');
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
