-- migrate(): once per name, checksum, same transaction as the script.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(9);

SELECT is(pgtrack.migrate('v001', 'ALTER TABLE pgtrack.metrics ADD COLUMN lr_used double precision'), true, 'runs the first time');
SELECT is(pgtrack.migrate('v001', 'ALTER TABLE pgtrack.metrics ADD COLUMN lr_used double precision'), false, 'same text: no-op');
SELECT throws_ok($$SELECT pgtrack.migrate('v001', 'SELECT 1')$$, 'PT005', NULL, 'same name, other text: PT005');
SELECT ok((SELECT checksum FROM pgtrack.applied_migrations WHERE name = 'v001') ~ '^[0-9a-f]{64}$', 'sha256 checksum recorded');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(pgtrack.create_run(pgtrack.experiment(%L)), 0, 0, %L)', 'mig', '{"lr_used": 0.1}'),
    'a metric column added by a migration is writable at once');
SELECT throws_ok($$SELECT pgtrack.migrate('v002', 'CREATE TABLE public.m2 (a int); SELECT 1/0')$$, '22012', NULL, 'failing script raises its error');
SELECT hasnt_table('public', 'm2', 'failing script left no table');
SELECT is((SELECT count(*)::int FROM pgtrack.applied_migrations WHERE name = 'v002'), 0, 'failing script left no record');
SELECT throws_ok($$SELECT pgtrack.migrate('v003', 'COMMIT')$$, 'PT003', NULL, 'transaction control in a script: PT003');

SELECT * FROM finish();
ROLLBACK;
