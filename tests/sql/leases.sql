-- Leases (0.2.0): metric writers fenced by attempt, stale_after must be positive.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(17);
SELECT pgtrack.add_metric('loss');
SELECT pgtrack.experiment('leases') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'lr', 'float');
SELECT run_id AS r, attempt AS a FROM pgtrack.register(:e, '{"lr": 0.1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour') \gset
SELECT is(:a, 1, 'first claim is attempt 1');

SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 1, metrics => %L, attempt => %s)', :r, '{"loss": 1}', :a),
    'current attempt writes');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics_batch(%s, %L, attempt => %s)', :r, '[{"step": 2, "loss": 2}]', :a),
    'current attempt writes a batch');
-- Another worker takes the run over (status FAILED makes it claimable at once).
SELECT pgtrack.run_set_status(:r, 'FAILED');
SELECT is((SELECT attempt FROM pgtrack.claim_next(:e, '1 hour')), 2, 'takeover is attempt 2');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 1, metrics => %L, attempt => %s)', :r, '{"loss": 99}', :a),
    'PT004', format('lease lost: run %s is at attempt 2, not 1', :r), 'old attempt: PT004 from run_add_metrics');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 1, metrics => %L, set_updated => false, attempt => %s)', :r, '{"loss": 99}', :a),
    'PT004', NULL, 'old attempt: PT004 without set_updated too');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics_batch(%s, %L, attempt => %s)', :r, '[{"step": 1, "loss": 99}]', :a),
    'PT004', NULL, 'old attempt: PT004 from run_add_metrics_batch');
SELECT is((SELECT loss FROM pgtrack.metrics WHERE run_id = :r AND step = 1), 1::float8, 'the fenced-off writes changed nothing');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 1, metrics => %L, attempt => 1)', -5, '{"loss": 1}'),
    'PT002', NULL, 'missing run with attempt: PT002, not PT004');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 3, metrics => %L)', :r, '{"loss": 3}'), 'no attempt: no check');

SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.1}', 'claim_if_stale', '0 seconds'),
    'PT003', 'stale_after must be a positive interval with no negative part, got 00:00:00', 'claim_if_stale: zero stale_after refused');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.1}', 'return_existing', '-1 minute'),
    'PT003', NULL, 'negative stale_after refused with any policy');
SELECT throws_ok(format('SELECT pgtrack.claim_next(%s, %L)', :e, '-5 minutes'), 'PT003', NULL, 'claim_next: negative stale_after refused');
-- Mixed signs (issue 16): compared with interval '0' (30-day months) this one is positive, but in a
-- 31-day month now() minus it lies a day in the future, so a run heartbeated a second ago looked stale.
SELECT throws_ok(format('SELECT pgtrack.claim_next(%s, %L)', :e, '-1 month 30 days 1 second'), 'PT003', NULL,
    'claim_next: stale_after with a negative month refused');
SELECT throws_ok(format('SELECT pgtrack.register(%s, %L, on_duplicate => %L, stale_after => %L)', :e, '{"lr": 0.1}', 'claim_if_stale', '1 day -23 hours'),
    'PT003', NULL, 'claim_if_stale: a negative hour part refused');
SELECT lives_ok(format('SELECT pgtrack.claim_next(%s, %L)', :e, '1 mon 2 days 00:00:01'), 'all parts positive: fine');
SELECT is((SELECT attempt FROM pgtrack.runs WHERE id = :r), 2, 'refused calls claimed nothing');

SELECT * FROM finish();
ROLLBACK;
