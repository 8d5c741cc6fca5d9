-- Metrics nobody declared (add_missing) and names as frameworks write them (0.3.0): every writer,
-- reader and schema change quotes them.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(16);
SELECT pgtrack.experiment('names-test') AS e \gset
SELECT pgtrack.create_run(:e) AS r \gset

SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 1, 0, %L)', :r, '{"train/loss": 0.5}'), 'PT003', NULL,
    'without add_missing an unknown name is PT003');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 1, 0, %L, add_missing => true)', :r, '{"train/loss": 0.5, "val/acc@1": 0.25}'),
    'add_missing creates the columns and writes');
SELECT results_eq(format('SELECT "train/loss", "val/acc@1" FROM pgtrack.metrics WHERE run_id = %s AND step = 1', :r),
    $$VALUES (0.5::float8, 0.25::float8)$$, 'stored under the exact names');
SELECT is((SELECT type FROM pgtrack.metric_columns() WHERE name = 'train/loss'), 'double precision'::regtype, 'double precision');
SELECT is(pgtrack.run_add_metrics_batch(:r, '[{"step": 2, "lr-AdamW": 0.001, "train/loss": 0.4}, {"step": 3, "Epoch Time": 12}]', add_missing => true),
    2, 'the batch writer adds what is missing too');
SELECT results_eq(format('SELECT "lr-AdamW", "train/loss", "Epoch Time" FROM pgtrack.metrics WHERE run_id = %s ORDER BY step OFFSET 1', :r),
    $$VALUES (0.001::float8, 0.4::float8, NULL::float8), (NULL, NULL, 12)$$, 'batch rows stored');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 4, 0, %L, add_missing => true)', :r, E'{"bad\\tname": 1}'), 'PT003', NULL,
    'add_missing still validates the name');
SELECT hasnt_column('pgtrack', 'metrics', E'bad\tname', 'and adds nothing then');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 4, 0, %L, add_missing => true)', :r, '{"good": 1, "xmin": 2}'), 'PT003', NULL,
    'one bad name refuses the whole call');
SELECT hasnt_column('pgtrack', 'metrics', 'good', 'no partial schema change');

-- Readers and schema changes with quoted names.
SELECT results_eq(format('SELECT best, final FROM pgtrack.best_runs(%s, %L)', :e, 'train/loss'), $$VALUES (0.4::float8, 0.4::float8)$$,
    'best_runs on train/loss');
SELECT is((SELECT value::float8 FROM pgtrack.final_metrics(:r) WHERE metric = 'val/acc@1'), 0.25::float8, 'final_metrics names it');
SELECT is((SELECT count(*)::int FROM pgtrack.metric_curves(:e, 'train/loss')), 2, 'metric_curves on train/loss');
SELECT lives_ok($$SELECT pgtrack.rename_metric('lr-AdamW', 'lr "AdamW"')$$, 'rename to a name with quotes');
SELECT lives_ok($$SELECT pgtrack.drop_metric('lr "AdamW"', force => true)$$, 'drop it');
SELECT has_table('pgtrack', 'runs', 'nothing else touched');

SELECT * FROM finish();
ROLLBACK;
