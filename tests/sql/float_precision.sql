-- experiment(float_precision => n) and drop_identifying(force => true) (0.2.0).
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(11);
SELECT pgtrack.experiment('fp', float_precision => 3) AS e \gset
SELECT is((SELECT float_precision FROM pgtrack.experiments WHERE id = :e), 3, 'float_precision set on creation');
SELECT pgtrack.declare_identifying(:e, 'x', 'float'), pgtrack.declare_identifying(:e, 'seed', 'int', '0');
SELECT is(pgtrack.normalize_identity(:e, '{"x": 0.12345}'), '{"x": 0.123, "seed": 0}'::jsonb, 'rounded to 3 digits');
SELECT pgtrack.enqueue(:e, '[{"x": 0.1234}, {"x": 0.1239}]');
SELECT is(pgtrack.experiment('fp'), :e::bigint, 'no float_precision: unchanged');
SELECT is((SELECT float_precision FROM pgtrack.experiments WHERE id = :e), 3, 'still 3');
SELECT throws_ok($$SELECT pgtrack.experiment('fp', float_precision => 2)$$, 'PT005', NULL, 'lowering to 2 digits would collide 0.123 and 0.124');
SELECT is((SELECT float_precision FROM pgtrack.experiments WHERE id = :e), 3, 'refused change left the precision');
SELECT is(pgtrack.experiment('fp', float_precision => 12), :e::bigint, 'raising the precision is allowed');
SELECT throws_ok($$SELECT pgtrack.experiment('other', float_precision => 0)$$, 'PT003', NULL, 'float_precision 0 is PT003');

SELECT pgtrack.enqueue(:e, '[{"x": 0.5, "seed": 1}, {"x": 0.5, "seed": 2}, {"x": 0.7, "seed": 1}]');
SELECT throws_ok(format('SELECT pgtrack.drop_identifying(%s, %L)', :e, 'seed'), 'PT005', NULL, 'drop refused while runs collide');
SELECT pgtrack.drop_identifying(:e, 'seed', force => true);
SELECT results_eq(format($q$SELECT count(*)::int FROM pgtrack.runs WHERE experiment_id = %s AND identity = '{"x": 0.5}'$q$, :e), $q$VALUES (1)$q$, 'force kept one run of the group');  -- a query of its own: on Citus a router query would take is() to a worker
SELECT results_eq(format($q$SELECT count(*)::int FROM pgtrack.runs WHERE experiment_id = %s$q$, :e), $q$VALUES (4)$q$, 'force deleted only the extra run');  -- a query of its own: on Citus a router query would take is() to a worker

SELECT * FROM finish();
ROLLBACK;
