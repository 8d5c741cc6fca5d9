-- Bad input for the remaining entry points: PT003 (or PT002) and nothing written.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(16);
SELECT pgtrack.experiment('bad-input') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'k', 'int');

SELECT throws_ok($$SELECT pgtrack.migrate(NULL, 'SELECT 1')$$, 'PT003', NULL, 'migrate: NULL name');
SELECT throws_ok($$SELECT pgtrack.migrate('m', '  ')$$, 'PT003', NULL, 'migrate: blank script');
SELECT throws_ok(format('SELECT pgtrack.declare_identifying(%s, %L, %L)', :e, 'x', 'decimal'), 'PT003', NULL, 'declare: unknown type');
SELECT throws_ok(format('SELECT pgtrack.declare_identifying(%s, %L, %L)', :e, 'Bad Name', 'int'), 'PT003', NULL, 'declare: invalid name');
SELECT throws_ok(format('SELECT pgtrack.declare_identifying(%s, %L, %L, %L)', :e, 'y', 'int', '"x"'), 'PT003', NULL, 'declare: default of the wrong type');
SELECT throws_ok('SELECT pgtrack.declare_identifying(-1, ''y'', ''int'')', 'PT002', NULL, 'declare: missing experiment');
SELECT throws_ok(format('SELECT pgtrack.drop_identifying(%s, %L)', :e, 'nope'), 'PT003', NULL, 'drop_identifying: unknown field');
SELECT throws_ok(format('SELECT pgtrack.enqueue(%s, %L)', :e, '{"k": 1}'), 'PT003', NULL, 'enqueue: not an array');
SELECT throws_ok('SELECT pgtrack.enqueue(-1, ''[]'')', 'PT002', NULL, 'enqueue: missing experiment');
SELECT throws_ok('SELECT pgtrack.claim_next(-1, ''1 hour'')', 'PT002', NULL, 'claim_next: missing experiment');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"k": 1}', '[1]', 'raise'), 'PT003', NULL, 'register: annotating not an object');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"k": 1}', '{"tags": "x"}', 'raise'), 'PT003', NULL, 'register: tags not an array');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, %L, on_duplicate => %L)', :e, '{"k": 1}', '{"args": 5}', 'raise'), 'PT003', NULL, 'register: args not an object');
SELECT is(pgtrack.find_run(:e, '{"k": 1}'), NULL, 'failed registrations wrote nothing');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '[1]'), 'PT003', NULL, 'normalize: not an object');
SELECT throws_ok('SELECT pgtrack.find_run(-1, ''{}'')', 'PT002', NULL, 'find_run: missing experiment');

SELECT * FROM finish();
ROLLBACK;
