-- Lost runs (0.3.0): a live status whose last sign of life is older than the experiment's lost_after.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(15);
SELECT pgtrack.experiment('lost-test') AS e \gset
SELECT pgtrack.create_run(:e) AS dead \gset
SELECT pgtrack.create_run(:e) AS alive \gset
SELECT pgtrack.create_run(:e) AS done \gset
SELECT pgtrack.create_run(:e) AS pending \gset
SELECT pgtrack.run_start(:dead), pgtrack.run_start(:alive), pgtrack.run_start(:done);
SELECT pgtrack.run_stop(:done);
-- The dead worker's last sign of life was 11 minutes ago; the finished one's too (but it is COMPLETED).
UPDATE pgtrack.runs SET time_updated = now() - interval '11 minutes' WHERE id IN (:dead, :done);

SELECT is(pgtrack.is_lost('RUNNING', now() - interval '11 minutes'), true, 'RUNNING and silent for 11 min: lost (default 10 min)');
SELECT is(pgtrack.is_lost('RUNNING', now() - interval '1 minute'), false, 'silent for 1 min: alive');
SELECT is(pgtrack.is_lost('COMPLETED', now() - interval '1 day'), false, 'a finished run is never lost');
SELECT results_eq(format('SELECT run_id, lost, shown_status FROM pgtrack.runs_status(%s) ORDER BY run_id', :e),
    format('VALUES (%s::bigint, true, %L), (%s, false, %L), (%s, false, %L), (%s, false, %L)',
           :dead, 'LOST', :alive, 'RUNNING', :done, 'COMPLETED', :pending, 'PENDING'),
    'runs_status: LOST for the dead worker only');
SELECT results_eq(format('SELECT status::text, lost FROM pgtrack.experiment_summary(%s) WHERE status = %L', :e, 'RUNNING'),
    $$VALUES ('RUNNING', 1::bigint)$$, 'experiment_summary counts it');
SELECT lives_ok(format('SELECT pgtrack.experiment_set_lost_after(%s, %L)', :e, '1 hour'), 'per-experiment threshold');
SELECT is((SELECT count(*)::int FROM pgtrack.runs_status(:e) WHERE lost), 0, 'with 1 hour nothing is lost');
-- '-1 month (D-1) days 23 hours' with D the length of the coming month: one hour into the future
-- whatever the date, though positive when months count 30 days (as interval comparison does) in 31-day months.
SELECT throws_ok(format('SELECT pgtrack.experiment_set_lost_after(%s, %L)', :e,
    format('-1 month %s days 23 hours', extract(day FROM (now() + interval '1 month') - now())::int - 1)), 'PT003', NULL,
    'an interval of mixed signs that points into the future: PT003');
SELECT throws_ok(format('SELECT pgtrack.experiment_set_lost_after(%s, %L)', :e, '0'), 'PT003', NULL, 'zero: PT003');
SELECT throws_ok($$SELECT pgtrack.experiment_set_lost_after(-5, '1 hour')$$, 'PT002', NULL, 'unknown experiment: PT002');
SELECT pgtrack.heartbeat(:dead);
SELECT pgtrack.experiment_set_lost_after(:e, '10 minutes');
SELECT is((SELECT lost FROM pgtrack.runs_status(:e) WHERE run_id = :dead), false, 'a heartbeat brings it back');

-- One last sign of life for both judgements (pgtrack.last_seen): a run started 2 minutes ago and not
-- written to since, made 1 day ago, is neither stale for a claim nor lost; started 2 hours ago it is both.
SELECT pgtrack.declare_identifying(:e, 'lr', 'float');
SELECT run_id AS started FROM pgtrack.register(:e, '{"lr": 0.1}', on_duplicate => 'raise') \gset
UPDATE pgtrack.runs SET status = 'RUNNING', time_created = now() - interval '1 day', time_started = now() - interval '2 minutes',
       time_updated = NULL WHERE id = :started;
SELECT is((SELECT was_skipped FROM pgtrack.register(:e, '{"lr": 0.1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')),
          true, 'started 2 minutes ago: not stale for claim_if_stale');
SELECT is((SELECT count(*)::int FROM pgtrack.claim_next(:e, '1 hour') WHERE run_id = :started), 0,
          'nor for claim_next');
UPDATE pgtrack.runs SET time_started = now() - interval '2 hours' WHERE id = :started;
SELECT is((SELECT lost FROM pgtrack.runs_status(:e) WHERE run_id = :started), true, 'started 2 hours ago, silent since: lost');
SELECT is((SELECT was_updated FROM pgtrack.register(:e, '{"lr": 0.1}', on_duplicate => 'claim_if_stale', stale_after => '1 hour')),
          true, 'and stale: claim_if_stale takes it');

SELECT * FROM finish();
ROLLBACK;
