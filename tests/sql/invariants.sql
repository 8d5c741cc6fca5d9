-- Raw writes keep the invariants (issue 16): no single row can stall the queue or live forever, and
-- names are bounded, one-line text.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(17);
SELECT pgtrack.experiment('inv') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'k', 'int');
SELECT pgtrack.enqueue(:e, '[{"k": 1}, {"k": 2}]');
SELECT pgtrack.find_run(:e, '{"k": 1}') AS r1 \gset
SELECT pgtrack.find_run(:e, '{"k": 2}') AS r2 \gset

SELECT throws_ok(format('UPDATE pgtrack.runs SET attempt = 2147483647 WHERE id = %s', :r1), '23514', NULL, 'attempt near int max: refused');
SELECT throws_ok(format('UPDATE pgtrack.runs SET attempt = -1 WHERE id = %s', :r1), '23514', NULL, 'negative attempt: refused');
SELECT throws_ok(format('UPDATE pgtrack.runs SET time_updated = %L WHERE id = %s', 'infinity', :r1), '23514', NULL, 'time_updated infinity: refused');
SELECT throws_ok(format('UPDATE pgtrack.runs SET time_updated = %L WHERE id = %s', '9999-01-01', :r1), '23514', NULL, 'time_updated in year 9999: refused');
SELECT throws_ok(format('UPDATE pgtrack.runs SET time_created = %L WHERE id = %s', '9999-01-01', :r1), '23514', NULL, 'time_created in the future: refused');
SELECT throws_ok(format('INSERT INTO pgtrack.runs (id, experiment_id) VALUES (9223372036854775807, %s)', :e), '23514', NULL, 'id near 2^63: refused');
SELECT lives_ok(format('UPDATE pgtrack.runs SET time_updated = now() + interval ''1 minute'' WHERE id = %s', :r2), 'a little clock skew is fine');

-- A run at the top attempt is skipped by claims instead of stalling the queue with an overflow.
UPDATE pgtrack.runs SET attempt = 1000000000 WHERE id = :r1;
SELECT is((SELECT run_id FROM pgtrack.claim_next(:e, '1 hour')), :r2::bigint, 'claim_next skips the run at the top attempt');
SELECT is((SELECT run_id FROM pgtrack.claim_next(:e, '1 hour')), NULL::bigint, 'and then has nothing left, without an error');
SELECT is((SELECT was_skipped FROM pgtrack.register(:e, '{"k": 1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')), true,
    'claim_if_stale skips it too');

-- Names: bounded, one line.
SELECT throws_ok(format('SELECT pgtrack.experiment(%L)', repeat('x', 3000)), 'PT003', NULL, 'a 3 kB experiment name: PT003, not 54000');
SELECT throws_ok(format('SELECT pgtrack.experiment(%L)', repeat('é', 128)), 'PT003', NULL, '256 bytes of multibyte text: PT003');
SELECT lives_ok(format('SELECT pgtrack.experiment(%L)', repeat('x', 255)), '255 bytes: fine');
SELECT throws_ok(format('SELECT pgtrack.experiment(%L)', E'bad\nname'), 'PT003', NULL, 'a newline in a name: PT003');
SELECT throws_ok(format('SELECT pgtrack.run_add_relationship(%s, %L, %s)', :r1, repeat('k', 3000), :r2), 'PT003', NULL, 'a 3 kB relationship kind: PT003');
SELECT throws_ok(format('SELECT pgtrack.run_add_tags(%s, %L)', :r1, E'a\x1bb'), 'PT003', NULL, 'an escape character in a tag: PT003');
SELECT lives_ok($$SELECT pgtrack.migrate('multi-line', E'SELECT 1;\nSELECT 2;')$$, 'a migration script may have newlines');

SELECT * FROM finish();
ROLLBACK;
