-- Typed experiment views (0.3.0): typed identifying columns, run columns, best_/final_ per metric,
-- kept current by schema changes, security_invoker.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(14);
SELECT pgtrack.add_metric('val_loss'), pgtrack.add_metric('val_acc');
SELECT pgtrack.experiment('sweep') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'lr', 'float');
SELECT pgtrack.declare_identifying(:e, 'seed', 'int', default_value => '0');
SELECT pgtrack.declare_identifying(:e, 'opt', 'string', default_value => '"adam"');
SELECT run_id AS r1 FROM pgtrack.register(:e, '{"lr": 0.1}', on_duplicate => 'raise') \gset
SELECT run_id AS r2 FROM pgtrack.register(:e, '{"lr": 0.01, "seed": 1}', on_duplicate => 'raise') \gset
SELECT pgtrack.run_add_metrics_batch(:r1, '[{"step": 1, "val_loss": 0.5, "val_acc": 0.6}, {"step": 2, "val_loss": 0.3, "val_acc": 0.7}, {"step": 3, "val_loss": 0.4}]');
SELECT pgtrack.run_add_metrics_batch(:r2, '[{"step": 1, "val_loss": 0.2}]');

SELECT is(pgtrack.experiment_view('sweep'), 'pgtrack_views.sweep', 'experiment_view returns the view name');
SELECT results_eq('SELECT lr, seed, opt, best_val_loss, final_val_loss, best_val_acc FROM pgtrack_views.sweep ORDER BY best_val_loss',
    $$VALUES (0.01::float8, 1::bigint, 'adam'::text, 0.2::float8, 0.2::float8, NULL::float8), (0.1, 0, 'adam', 0.3, 0.4, 0.7)$$,
    'typed identifying columns, best (min; max for acc) and final values');
SELECT col_type_is('pgtrack_views', 'sweep', 'lr', 'double precision', 'lr is a float column');
SELECT col_type_is('pgtrack_views', 'sweep', 'seed', 'bigint', 'seed is a bigint column');
SELECT has_column('pgtrack_views', 'sweep', 'status', 'built-in run columns are there');
SELECT ok((SELECT reloptions FROM pg_class WHERE oid = 'pgtrack_views.sweep'::regclass) @> '{security_invoker=true}',
    'security_invoker: a reader sees what it may read');

-- kept current
SELECT pgtrack.add_metric('train/loss');
SELECT has_column('pgtrack_views', 'sweep', 'best_train/loss', 'a new metric appears');
SELECT pgtrack.declare_identifying(:e, 'wd', 'float', default_value => '0.0');
SELECT has_column('pgtrack_views', 'sweep', 'wd', 'a new identifying field appears');
SELECT lives_ok($$SELECT pgtrack.drop_metric('val_acc', force => true)$$, 'dropping a metric the view uses works');
SELECT hasnt_column('pgtrack_views', 'sweep', 'best_val_acc', 'and the view no longer has it');
SELECT CASE WHEN pgtrack._is_distributed()  -- Citus: pgtrack does not rebuild a distributed table (docs/scale.md)
            THEN throws_ok($$SELECT pgtrack.compact_metrics()$$, 'PT005', NULL, 'compaction on Citus: PT005')
            ELSE lives_ok($$SELECT pgtrack.compact_metrics()$$, 'compaction is not blocked by pgtrack''s own views') END;
SELECT lives_ok(format('SELECT pgtrack.experiment_set_name(%s, %L)', :e, 'sweep-2'), 'renaming the experiment');
SELECT has_view('pgtrack_views', 'sweep-2', 'the view follows the new name');
SELECT throws_ok($$SELECT pgtrack.experiment_view('nope')$$, 'PT002', NULL, 'unknown experiment: PT002');

SELECT * FROM finish();
ROLLBACK;
