-- normalize_identity: defaults, strict types, float rounding (decimal, half away from zero), guards.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(34);
SELECT pgtrack.experiment('norm') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'lr', 'float'), pgtrack.declare_identifying(:e, 'seed', 'int', '0'),
       pgtrack.declare_identifying(:e, 'model', 'string', '"resnet"'), pgtrack.declare_identifying(:e, 'aug', 'bool', 'false');
CREATE TEMP TABLE n AS SELECT :e::bigint AS e;
CREATE FUNCTION pg_temp.lr(v text) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT pgtrack.normalize_identity((SELECT e FROM n), ('{"lr": ' || v || '}')::jsonb) -> 'lr' $$;

SELECT is(pgtrack.normalize_identity(:e, '{"lr": 0.1}'), '{"lr": 0.1, "seed": 0, "model": "resnet", "aug": false}'::jsonb, 'defaults filled');
SELECT is(pg_temp.lr('0.30000000000000004'), pg_temp.lr('0.3'), '0.1+0.2 and 0.3 are one key');
SELECT is(pg_temp.lr('1')::text, pg_temp.lr('1.0')::text, '1 and 1.0 are one key in a float field');
SELECT is(pg_temp.lr('1.0')::text, '1', 'trailing zeros stripped');
SELECT is(pg_temp.lr('-0.0')::text, '0', '-0 becomes 0');
SELECT is(pg_temp.lr('-0')::text, '0', '-0 (integer form) becomes 0');
SELECT is(pg_temp.lr('0.3333333333333333')::text, '0.333333333333', '1/3 at 12 digits');
SELECT is(pg_temp.lr('0.6666666666666666')::text, '0.666666666667', '2/3 at 12 digits');
SELECT is(pg_temp.lr('123456789012345')::text, '123456789012000', 'large value keeps 12 significant digits');
SELECT is(pg_temp.lr('0.00012345678901234')::text, '0.000123456789012', 'small value keeps 12 significant digits');
SELECT is(pg_temp.lr('-0.30000000000000004')::text, '-0.3', 'negative values');
SELECT is(pg_temp.lr('1e3')::text, '1000', 'exponent notation');
SELECT is(pg_temp.lr('1000')::text, '1000', 'exact power of ten unchanged');
SELECT is(pg_temp.lr('0.001')::text, '0.001', 'exact negative power of ten unchanged');
SELECT is(pg_temp.lr('5e-324')::text, '0.' || repeat('0', 323) || '5', 'smallest double (shortest text 5e-324) is kept');

UPDATE pgtrack.experiments SET float_precision = 1 WHERE id = :e;
SELECT is(pg_temp.lr('2.5')::text, '3', 'tie 2.5 @1 -> 3 (half away from zero, not half-even)');
SELECT is(pg_temp.lr('3.5')::text, '4', 'tie 3.5 @1 -> 4');
SELECT is(pg_temp.lr('9.5')::text, '10', 'tie 9.5 @1 -> 10 (carry)');
SELECT is(pg_temp.lr('-2.5')::text, '-3', 'tie -2.5 @1 -> -3 (away from zero)');
SELECT is(pg_temp.lr('1.7976931348623157e308')::text, '2' || repeat('0', 308), 'DBL_MAX at 1 digit does not overflow');
UPDATE pgtrack.experiments SET float_precision = 2 WHERE id = :e;
SELECT is(pg_temp.lr('0.125')::text, '0.13', 'tie 0.125 @2 -> 0.13 (decimal text, not binary value)');
UPDATE pgtrack.experiments SET float_precision = 3 WHERE id = :e;
SELECT is(pg_temp.lr('0.1235')::text, '0.124', '0.1235 @3 -> 0.124 (decimal tie)');
SELECT is(pg_temp.lr('0.1234')::text, '0.123', '0.1234 @3 -> 0.123');

-- strict types
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": 1, "seed": 1.5}'), 'PT003', NULL, 'int field rejects 1.5');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": 1, "seed": 1.0}'), 'PT003', NULL, 'int field rejects 1.0');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": 1, "seed": true}'), 'PT003', NULL, 'int field rejects true');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": 1, "aug": 1}'), 'PT003', NULL, 'bool field rejects 1');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": "0.1"}'), 'PT003', NULL, 'float field rejects a string');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": "NaN"}'), 'PT003', NULL, 'float field rejects NaN');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": 1, "model": 5}'), 'PT003', NULL, 'string field rejects a number');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"seed": 1}'), 'PT003', 'missing identifying field lr for experiment ' || :e, 'missing field');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": 1, "bogus": 1}'), 'PT003', NULL, 'unknown field');
SELECT throws_ok(format('SELECT pgtrack.normalize_identity(%s, %L)', :e, '{"lr": null}'), 'PT003', NULL, 'null value rejected');

-- the trigger guards raw SQL writes
INSERT INTO pgtrack.runs (experiment_id, identity) VALUES (:e, '{"lr": 0.5}');
SELECT throws_ok(format($$INSERT INTO pgtrack.runs (experiment_id, identity) VALUES (%s, '{"lr": 0.50, "seed": 0}')$$, :e),
    '23505', NULL, 'raw INSERT is normalised, so the unique key catches the duplicate');

SELECT * FROM finish();
ROLLBACK;
