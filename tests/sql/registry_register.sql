-- register(): the five on_duplicate policies, claim rules, annotating fields, leases.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(39);
SELECT pgtrack.experiment('reg') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'lr', 'float'), pgtrack.declare_identifying(:e, 'seed', 'int', '0');
SELECT pgtrack.add_run_column('host', 'text');

SELECT run_id AS r, was_inserted AS ins FROM pgtrack.register(:e, '{"lr": 0.1}', on_duplicate => 'raise') \gset
SELECT ok(:'ins'::boolean, 'raise: new key inserted');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"lr": 0.1, "seed": 0}', 'raise'),
    'PT001', format('duplicate run: run %s of experiment %s has identity {"lr": 0.1, "seed": 0}', :r, :e), 'raise: PT001 names the run');
SELECT results_eq(format('SELECT run_id, was_inserted, was_updated, was_skipped FROM pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"lr": 0.1}', 'return_existing'),
    format('VALUES (%s::bigint, false, false, false)', :r), 'return_existing: existing row, all flags false');
SELECT results_eq(format('SELECT run_id, was_inserted, was_updated, was_skipped FROM pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"lr": 0.1}', 'skip'),
    'VALUES (NULL::bigint, false, false, true)', 'skip: NULL run_id, was_skipped');
SELECT results_eq(format('SELECT was_inserted FROM pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"lr": 0.2}', 'skip'),
    'VALUES (true)', 'skip: new key inserted');
SELECT results_eq(format('SELECT run_id, was_updated FROM pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"lr": 0.1}',
                         '{"comment": "again", "host": "n7", "tags": ["a"], "args": {"x": 1}}', 'overwrite'),
    format('VALUES (%s::bigint, true)', :r), 'overwrite: was_updated');
SELECT results_eq(format('SELECT comment, host, tags, args FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('again'::text, 'n7'::text, '{"a": true}'::jsonb, '{"x": 1}'::jsonb)$$, 'overwrite wrote the annotating fields');
SELECT results_eq(format('SELECT was_inserted, status::text FROM pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"lr": 0.3}', '{"status": "RUNNING", "error": null}', 'overwrite'),
    $$VALUES (true, 'RUNNING')$$, 'overwrite: new key inserted with its annotating fields');

-- bad input changes nothing
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L)', :e, '{"lr": 9}'), 'PT003', NULL, 'on_duplicate NULL: PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"lr": 9}', 'replace'), 'PT003', NULL, 'unknown policy: PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', :e, '{"lr": 9}', 'claim_if_stale'), 'PT003', NULL, 'claim_if_stale without stale_after: PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"lr": 9}', '{"owner": "me"}', 'raise'), 'PT003',
    NULL, 'unknown annotating field: PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"lr": 9}', '{"status": "DONE"}', 'raise'), 'PT003',
    NULL, 'invalid status value: PT003');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L)', -1, '{"lr": 9}', 'raise'), 'PT002', NULL, 'missing experiment: PT002');
SELECT is(pgtrack.find_run(:e, '{"lr": 9}'), NULL, 'failed registrations wrote nothing');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"lr": 0.1}', '{"owner": "me"}', 'return_existing'), 'PT003',
    NULL, 'unknown annotating field on an existing key: PT003 too');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"lr": 0.1}', '{"status": "DONE"}', 'skip'), 'PT003',
    NULL, 'invalid annotating value on an existing key: PT003 too');
SELECT is(pgtrack.find_run(:e, '{"lr": 0.10000000000000001, "seed": 0}'), :r::bigint, 'find_run normalises');

-- claim_if_stale
SELECT results_eq(format('SELECT was_inserted, status::text, attempt FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.5}', 'claim_if_stale', '1 hour'),
    $$VALUES (true, 'RUNNING', 1)$$, 'claim_if_stale: new key inserted RUNNING, attempt 1');
SELECT pgtrack.find_run(:e, '{"lr": 0.5}') AS c \gset
SELECT results_eq(format('SELECT run_id, was_skipped, attempt FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.5}', 'claim_if_stale', '1 hour'),
    format('VALUES (%s::bigint, true, 1)', :c), 'fresh RUNNING run: skipped, unchanged');
UPDATE pgtrack.runs SET time_updated = now() - interval '2 hours' WHERE id = :c;
SELECT results_eq(format('SELECT was_updated, status::text, attempt FROM pgtrack.register(%s, %L, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.5}', '{"host": "n2"}', 'claim_if_stale', '1 hour'),
    $$VALUES (true, 'RUNNING', 2)$$, 'stale RUNNING run: claimed, attempt 2');
SELECT results_eq(format('SELECT host, time_updated > now() - interval ''1 minute'' FROM pgtrack.runs WHERE id = %s', :c),
    $$VALUES ('n2'::text, true)$$, 'claim wrote annotating fields and time_updated');
SELECT throws_ok(format('SELECT pgtrack.heartbeat(%s, 1)', :c), 'PT004', NULL, 'old attempt heartbeat: PT004');
SELECT lives_ok(format('SELECT pgtrack.heartbeat(%s, 2)', :c), 'current attempt heartbeat works');
SELECT throws_ok(format('SELECT pgtrack.run_stop(%s, attempt => 1)', :c), 'PT004', NULL, 'run_stop with a stale attempt: PT004');
SELECT is((SELECT status FROM pgtrack.runs WHERE id = :c), 'RUNNING'::pgtrack.runstatus, 'stale stop changed nothing');
SELECT lives_ok(format('SELECT pgtrack.run_stop(%s, attempt => 2)', :c), 'run_stop with the current attempt');
UPDATE pgtrack.runs SET time_updated = now() - interval '2 days' WHERE id = :c;
SELECT results_eq(format('SELECT was_skipped, status::text FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.5}', 'claim_if_stale', '1 second'),
    $$VALUES (true, 'COMPLETED')$$, 'COMPLETED is never claimed, however old');
SELECT run_id AS f FROM pgtrack.register(:e, '{"lr": 0.6}', on_duplicate => 'raise') \gset
SELECT pgtrack.run_set_status(:f, 'FAILED');
SELECT results_eq(format('SELECT was_updated, attempt FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.6}', 'claim_if_stale', '100 years'),
    $$VALUES (true, 1)$$, 'FAILED is claimable at once');
SELECT results_eq(format('SELECT was_updated FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.2}', 'claim_if_stale', '100 years'),
    $$VALUES (true)$$, 'PENDING is claimable at once');
SELECT pgtrack.run_set_status(:f, 'SUSPENDED');
SELECT results_eq(format('SELECT was_skipped FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.6}', 'claim_if_stale', '1 hour'),
    $$VALUES (true)$$, 'SUSPENDED is a live state: not claimed while fresh');
SELECT pgtrack.run_set_status(:f, 'CANCELLED');
SELECT results_eq(format('SELECT was_updated FROM pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.6}', 'claim_if_stale', '1 hour'),
    $$VALUES (true)$$, 'CANCELLED is claimable at once');

-- identifying fields: declare/drop guards
SELECT throws_ok(format('SELECT pgtrack.declare_identifying(%s, %L, %L)', :e, 'depth', 'int'), 'PT005', NULL, 'new field without default on registered runs: PT005');
SELECT lives_ok(format('SELECT pgtrack.declare_identifying(%s, %L, %L, %L)', :e, 'depth', 'int', '3'), 'new field with default');
SELECT results_eq(format($q$SELECT count(*)::int FROM pgtrack.runs WHERE experiment_id = %s AND NOT identity @> '{"depth": 3}'$q$, :e), $q$VALUES (0)$q$, 'default backfilled into every identity');  -- a query of its own: on Citus a router query would take is() to a worker
SELECT throws_ok(format('SELECT pgtrack.declare_identifying(%s, %L, %L)', :e, 'depth', 'float'), 'PT005', NULL, 'type change: PT005');
SELECT throws_ok(format('SELECT pgtrack.drop_identifying(%s, %L)', :e, 'lr'), 'PT005', NULL, 'drop that would collide: PT005');
SELECT lives_ok(format('SELECT pgtrack.drop_identifying(%s, %L)', :e, 'depth'), 'drop without collisions');
SELECT results_eq(format($q$SELECT count(*)::int FROM pgtrack.runs WHERE experiment_id = %s AND identity ? 'depth'$q$, :e), $q$VALUES (0)$q$, 'dropped from every identity');  -- a query of its own: on Citus a router query would take is() to a worker

SELECT * FROM finish();
ROLLBACK;
