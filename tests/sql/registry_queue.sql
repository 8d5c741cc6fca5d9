-- enqueue / claim_next ordering, and collisions_after_drop groups.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(12);
SELECT pgtrack.experiment('queue') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'lr', 'float'), pgtrack.declare_identifying(:e, 'seed', 'int');

SELECT is(pgtrack.enqueue(:e, '[{"lr": 0.1, "seed": 1}, {"lr": 0.1, "seed": 2}, {"lr": 0.10, "seed": 1}]'), 2, 'enqueue counts new runs, repeats skipped');
SELECT is(pgtrack.enqueue(:e, '[{"lr": 0.1, "seed": 1}, {"lr": 0.2, "seed": 1}]'), 1, 'existing keys skipped');
SELECT throws_ok(format('SELECT pgtrack.enqueue(%s, %L)', :e, '[{"lr": 0.3, "seed": 1}, {"lr": "x", "seed": 1}]'), 'PT003', NULL, 'one bad identity fails the call');
SELECT is(pgtrack.find_run(:e, '{"lr": 0.3, "seed": 1}'), NULL, 'nothing from the failed call');
SELECT pgtrack.create_run(:e) AS plain \gset
SELECT pgtrack.find_run(:e, '{"lr": 0.2, "seed": 1}') AS third \gset
SELECT pgtrack.run_set_status(:third, 'FAILED');
SELECT results_eq(format('SELECT status::text, attempt FROM pgtrack.claim_next(%s, %L, %L)', :e, '1 hour', 'w1'),
    $$VALUES ('RUNNING', 1)$$, 'claim_next hands out a run');
SELECT results_eq(format($q$SELECT worker FROM pgtrack.runs WHERE experiment_id = %s AND worker IS NOT NULL$q$, :e), $q$VALUES ('w1')$q$, 'worker recorded on the run');  -- a query of its own: on Citus a router query would take is() to a worker
SELECT pgtrack.claim_next(:e, '1 hour', 'w2');
SELECT results_eq(format('SELECT run_id FROM pgtrack.claim_next(%s, %L)', :e, '1 hour'),
    format('VALUES (%s::bigint)', :third), 'PENDING first, then FAILED');
SELECT results_eq(format('SELECT run_id, was_updated FROM pgtrack.claim_next(%s, %L)', :e, '1 hour'),
    $$VALUES (NULL::bigint, false)$$, 'nothing left: NULL run_id (runs made by create_run are not queue items)');
SELECT is((SELECT status FROM pgtrack.runs WHERE id = :plain), 'PENDING'::pgtrack.runstatus, 'create_run run untouched');
SELECT throws_ok(format('SELECT pgtrack.claim_next(%s, NULL)', :e), 'PT003', NULL, 'stale_after required');

SELECT results_eq(format('SELECT identity, run_ids FROM pgtrack.collisions_after_drop(%s, %L)', :e, 'seed'),
    format($$VALUES ('{"lr": 0.1}'::jsonb, ARRAY[%s, %s]::bigint[])$$,
           pgtrack.find_run(:e, '{"lr": 0.1, "seed": 1}'), pgtrack.find_run(:e, '{"lr": 0.1, "seed": 2}')),
    'collision groups with sorted run ids');
SELECT throws_ok(format('SELECT * FROM pgtrack.collisions_after_drop(%s, %L)', :e, 'nope'), 'PT003', NULL, 'unknown field: PT003');

SELECT * FROM finish();
ROLLBACK;
