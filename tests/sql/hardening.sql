-- Bad input that used to give raw SQLSTATEs or silently wrong results (issue 7, "Low").
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(22);
SELECT pgtrack.experiment('hard') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'k', 'int'), pgtrack.declare_identifying(:e, 's', 'string', '"x"');
SELECT pgtrack.create_run(:e) AS r \gset

SELECT throws_ok(format('SELECT pgtrack.add_metric(%L)', n), 'PT003', NULL, 'system column name ' || n || ' is PT003')
  FROM unnest(ARRAY['xmin', 'tableoid', 'ctid']) n;
SELECT lives_ok($$SELECT pgtrack.add_metric('v_loss'), pgtrack.add_metric('c_index'), pgtrack.add_metric('_step')$$,
                'metric names like pgtrack''s variables (v_, c_, _) are ordinary columns');
SELECT throws_ok($$SELECT pgtrack.add_run_column('p_run_id', 'text')$$, 'PT003', NULL, 'prefix p_ reserved');
SELECT throws_ok(format('SELECT pgtrack.add_metric(%L)', repeat('a', 64)), 'PT003', NULL, 'a 64-byte name is PT003');
SELECT throws_ok($$SELECT pgtrack.add_metric('arr', 'float8[]')$$, 'PT003', NULL, 'array metric refused: no JSON value could be written to it');
SELECT lives_ok($$SELECT pgtrack.add_run_column('labels', 'text[]')$$, 'array run column of a base type accepted');
SELECT throws_ok($$SELECT pgtrack.add_metric('rel', 'regclass')$$, 'PT003', NULL, 'reg* types refused (pg_upgrade)');
SELECT throws_ok($$SELECT pgtrack.add_metric('cpx', 'pg_class')$$, 'PT003', NULL, 'composite types refused');
SELECT throws_ok($$SELECT pgtrack.add_metric('rng', 'int4range')$$, 'PT003', NULL, 'range types refused');
SELECT lives_ok($$SELECT pgtrack.add_run_column('phase', 'pgtrack.runstatus')$$, 'the extension owner''s enum is accepted');

SELECT throws_ok(format('SELECT pgtrack.run_set_created(%s, NULL)', :r), 'PT003', NULL, 'run_set_created(NULL) is PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"k": 1e5000}', 'raise'), 'PT003', NULL,
    'int identifying value 1e5000 is PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"k": 9223372036854775808}', 'raise'), 'PT003', NULL,
    'int identifying value beyond bigint is PT003');
SELECT lives_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"k": 9223372036854775807}', 'raise'),
    'the largest bigint is fine');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, jsonb_build_object('k', 1, 's', repeat('x', 5000)), 'raise'),
    'PT003', NULL, 'a 5 kB identity is PT003, not an index row size error');
SELECT throws_ok(format('SELECT pgtrack.experiment(%L)', n), 'PT003', NULL, 'white-space-only experiment name is PT003')
  FROM unnest(ARRAY[E'\t\n', U&'\00A0', U&'\3000 ']) n;
SELECT throws_ok(format('SELECT pgtrack.create_run(%s, 9223372036854775807)', :e), 'PT003', NULL, 'explicit run id beyond 2^53-1 is PT003');

SELECT pgtrack.add_metric('blob', 'jsonb');
SELECT pgtrack.run_add_metrics(:r, 1, metrics => '{"blob": {"a": 1}}');
SELECT pgtrack.run_add_metrics(:r, 1, metrics => '{"blob": null}');
SELECT pgtrack.run_add_metrics_batch(:r, '[{"step": 1, "blob": null}, {"step": 1, "blob": null}]');
SELECT is((SELECT blob FROM pgtrack.metrics WHERE run_id = :r AND step = 1), '{"a": 1}'::jsonb, 'a JSON null never overwrites a stored jsonb value');

SELECT * FROM finish();
ROLLBACK;
