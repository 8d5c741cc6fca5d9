-- create_run (explicit ids), run_start/run_stop, setters, tags/args/env, relationships, heartbeat.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(38);

SELECT pgtrack.experiment('runs-test') AS e \gset
SELECT pgtrack.create_run(:e, tags => ARRAY['x'], args => '{"lr": 0.1}', env => '{"HOST": "n1"}', comment => 'c') AS r \gset
SELECT results_eq(format('SELECT status, tags, args, env, comment, attempt FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('PENDING'::pgtrack.runstatus, '{"x": true}'::jsonb, '{"lr": 0.1}'::jsonb, '{"HOST": "n1"}'::jsonb, 'c'::text, 0)$$,
    'create_run stores tags as an object, args, env, comment; PENDING, attempt 0');

-- explicit ids
SELECT is(pgtrack.create_run(:e, run_id => 900000), 900000::bigint, 'explicit run id is used');
SELECT is(pgtrack.create_run(:e, run_id => 900000), 900000::bigint, 'explicit id again: get, not create');
SELECT cmp_ok(pgtrack.create_run(:e), '>', 900000::bigint, 'the sequence never hands out an explicit id later');
SELECT pgtrack.experiment('runs-other') AS o \gset
SELECT throws_ok(format('SELECT pgtrack.create_run(%s, run_id => 900000)', :o), 'PT003', NULL, 'explicit id of another experiment: PT003');
SELECT throws_ok('SELECT pgtrack.create_run(-5)', 'PT002', NULL, 'missing experiment: PT002');
SELECT throws_ok(format('SELECT pgtrack.create_run(%s, args => %L)', :e, '[1]'), 'PT003', NULL, 'args not an object: PT003');
SELECT throws_ok(format('SELECT pgtrack.create_run(%s, run_id => 0)', :e), 'PT003', NULL, 'run id 0: PT003');

-- start / stop
SELECT lives_ok(format('SELECT pgtrack.run_start(%s)', :r), 'run_start');
SELECT results_eq(format('SELECT status, time_started IS NOT NULL, time_updated >= time_started FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('RUNNING'::pgtrack.runstatus, true, true)$$, 'RUNNING with time_started, then time_updated by the database clock');
SELECT lives_ok(format('SELECT pgtrack.run_stop(%s, %L, %L)', :r, 'FAILED', 'ValueError: boom'), 'run_stop FAILED');
SELECT results_eq(format('SELECT status, error, time_finished IS NOT NULL FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('FAILED'::pgtrack.runstatus, 'ValueError: boom'::text, true)$$, 'status, error, time_finished');
SELECT lives_ok(format('SELECT pgtrack.run_start(%s, %L)', :r, '2024-01-01 00:00+00'), 'restart with explicit time');
SELECT results_eq(format('SELECT time_started, error, time_finished FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('2024-01-01 00:00+00'::timestamptz, NULL::text, NULL::timestamptz)$$, 'restart clears error and time_finished');
SELECT lives_ok(format('SELECT pgtrack.run_stop(%s)', :r), 'run_stop default');
SELECT is((SELECT status FROM pgtrack.runs WHERE id = :r), 'COMPLETED'::pgtrack.runstatus, 'default stop status COMPLETED');

-- setters
SELECT lives_ok(format('SELECT pgtrack.run_set_status(%s, %L)', :r, 'TIMEOUT'), 'run_set_status');
SELECT throws_ok(format('SELECT pgtrack.run_set_status(%s, NULL)', :r), 'PT003', NULL, 'NULL status: PT003');
SELECT lives_ok(format('SELECT pgtrack.run_set_created(%s, %L)', :r, '2023-01-01 00:00+00'), 'run_set_created');
SELECT lives_ok(format('SELECT pgtrack.run_set_started(%s, %L)', :r, '2023-01-02 00:00+00'), 'run_set_started');
SELECT lives_ok(format('SELECT pgtrack.run_set_updated(%s)', :r), 'run_set_updated default now');
SELECT lives_ok(format('SELECT pgtrack.run_set_comment(%s, %L)', :r, 'note'), 'run_set_comment');
SELECT results_eq(format('SELECT status, time_created, time_started, time_updated > time_started, comment FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('TIMEOUT'::pgtrack.runstatus, '2023-01-01 00:00+00'::timestamptz, '2023-01-02 00:00+00'::timestamptz, true, 'note'::text)$$,
    'setters wrote their columns');

-- tags / args / env
SELECT lives_ok(format('SELECT pgtrack.run_set_tags(%s, %L, %L)', :r, 'a', 'b'), 'run_set_tags');
SELECT lives_ok(format('SELECT pgtrack.run_add_tags(%s, %L)', :r, 'c'), 'run_add_tags');
SELECT lives_ok(format('SELECT pgtrack.run_remove_tags(%s, %L)', :r, 'a'), 'run_remove_tags');
SELECT lives_ok(format('SELECT pgtrack.run_set_args(%s, %L)', :r, '{"lr": 1, "bs": 8}'), 'run_set_args');
SELECT lives_ok(format('SELECT pgtrack.run_add_args(%s, %L)', :r, '{"lr": 2, "opt": "adam"}'), 'run_add_args merges');
SELECT lives_ok(format('SELECT pgtrack.run_remove_args(%s, %L)', :r, 'bs'), 'run_remove_args');
SELECT lives_ok(format('SELECT pgtrack.run_set_env(%s, %L)', :r, '{"A": "1"}'), 'run_set_env');
SELECT lives_ok(format('SELECT pgtrack.run_add_env(%s, %L)', :r, '{"B": "2"}'), 'run_add_env');
SELECT lives_ok(format('SELECT pgtrack.run_remove_env(%s, %L)', :r, 'A'), 'run_remove_env');
SELECT results_eq(format('SELECT tags, args, env FROM pgtrack.runs WHERE id = %s', :r),
    $$VALUES ('{"b": true, "c": true}'::jsonb, '{"lr": 2, "opt": "adam"}'::jsonb, '{"B": "2"}'::jsonb)$$,
    'tags/args/env after edits');
SELECT lives_ok(format('SELECT pgtrack.run_add_args(%s, %L)', :r, $${"k'; DROP TABLE pgtrack.runs; --": 1}$$), 'hostile args key');
SELECT ok((SELECT args ? $$k'; DROP TABLE pgtrack.runs; --$$ FROM pgtrack.runs WHERE id = :r), 'hostile key stored as data');

-- relationships
SELECT lives_ok(format('SELECT pgtrack.run_add_relationship(%s, %L, %s)', :r, 'resumed_from', 900000), 'run_add_relationship');
SELECT lives_ok(format('SELECT pgtrack.run_remove_relationship(%s, %L, %s)', :r, 'resumed_from', 900000), 'run_remove_relationship');

-- heartbeat
SELECT cmp_ok(pgtrack.heartbeat(:r), '<=', clock_timestamp(), 'heartbeat returns the new time_updated');

SELECT * FROM finish();
ROLLBACK;
