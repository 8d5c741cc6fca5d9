-- The generated metric writers' pieces (sql/50_runs/writers.sql): named placeholders filled in one
-- pass, and the server's statement for a client's unbuffered step (_metrics_statement), which shares
-- _metrics_write's fence.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(16);

SELECT is(pgtrack._fill('a {{x}} b {{y}}{{x}}', '{"x": "1", "y": "{{x}}"}'), 'a 1 b {{x}}1',
          '_fill replaces every placeholder in one pass: a value is never read again');
SELECT is(pgtrack._fill('{{x}}', '{"x": null}'), '', 'a JSON null value is nothing');
SELECT throws_ok($$SELECT pgtrack._fill('{{nope}}', '{}')$$, NULL, 'pgtrack._fill: no value for {{nope}}',
                 'a placeholder without a value is an error');

GRANT EXECUTE ON FUNCTION pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint) TO PUBLIC;
SELECT ok(has_function_privilege('public', 'pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint)', 'EXECUTE'),
          'a hand-made grant to PUBLIC');
SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('a{{touch}}b'), pgtrack.add_metric('note', 'text'),
       pgtrack.add_metric('$1'), pgtrack.add_metric('epochs', 'integer');
SELECT ok(NOT has_function_privilege('public', 'pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint)', 'EXECUTE'),
          'the next regeneration of the writers revokes it (privileges are kept only while PUBLIC has none)');
SELECT pgtrack.create_run(pgtrack.experiment('writers-test')) AS r \gset
SELECT pgtrack.experiment('writers-test') AS e \gset

SELECT pgtrack._is_distributed() AS citus \gset
\if :citus
SELECT is(pgtrack._metrics_statement(ARRAY['loss']), NULL, 'a distributed database: none (every write there is the upsert)');
SELECT skip('the step statement is for one server', 10);
\else
SELECT ok(pgtrack._metrics_statement(ARRAY['loss', 'a{{touch}}b', '$1']) IS NOT NULL, 'float columns: a statement');
SELECT ok(strpos(pgtrack._metrics_statement(ARRAY['a{{touch}}b']), '"a{{touch}}b"') > 0, 'a name is a quoted identifier, as given');
SELECT is(pgtrack._metrics_statement(ARRAY['note']), NULL, 'a text column: none (run_add_metrics converts)');
SELECT is(pgtrack._metrics_statement(ARRAY['epochs']), NULL, 'an integer column: none');
SELECT is(pgtrack._metrics_statement(ARRAY['progress']), NULL, 'a built-in column: none');
SELECT is(pgtrack._metrics_statement(ARRAY['nope']), NULL, 'no such column: none');
SELECT is(pgtrack._metrics_statement(ARRAY['loss', 'loss']), NULL, 'a name twice: none');

SELECT pgtrack._metrics_statement(ARRAY['loss', 'a{{touch}}b', '$1']) AS stmt \gset
SELECT lives_ok(format('PREPARE step AS %s', :'stmt'), 'the statement parses');
EXECUTE step(:r, NULL, :e, 3, 0.5, 0.25, NULL, -1);
EXECUTE step(:r, NULL, :e, 3, 0.5, NULL, 2, NULL);
SELECT results_eq(format('SELECT loss, "a{{touch}}b", "$1" FROM pgtrack.metrics WHERE run_id = %s AND step = 3', :r),
    $$VALUES (0.25::float8, 2::float8, -1::float8)$$, 'two steps at one (step, progress) merge: NULL keeps a value');
SELECT attempt AS old FROM pgtrack.runs WHERE id = :r \gset
UPDATE pgtrack.runs SET attempt = attempt + 1 WHERE id = :r;
EXECUTE step(:r, :old, :e, 4, 0, 1, 1, 1);
SELECT is((SELECT count(*)::int FROM pgtrack.metrics WHERE run_id = :r AND step = 4), 0, 'an old attempt writes nothing');
EXECUTE step(:r, NULL, :e + 1, 4, 0, 1, 1, 1);
SELECT is((SELECT count(*)::int FROM pgtrack.metrics WHERE run_id = :r AND step = 4), 0, 'another experiment writes nothing');
\endif

SELECT * FROM finish();
ROLLBACK;
