-- Analysis functions: best_runs, final_metrics, experiment_summary, metric_curves, with bad input.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(20);
SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('acc', 'real'), pgtrack.add_metric('note', 'text');
SELECT pgtrack.experiment('analysis') AS e \gset
SELECT pgtrack.declare_identifying(:e, 'lr', 'float');
SELECT pgtrack.enqueue(:e, '[{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}]');
SELECT pgtrack.find_run(:e, '{"lr": 0.1}') AS r1, pgtrack.find_run(:e, '{"lr": 0.2}') AS r2, pgtrack.find_run(:e, '{"lr": 0.3}') AS r3 \gset
-- r1: loss 1.0, 0.5 (best at step 2), 0.7; r2: 0.9, NaN, 0.6 (NaN never best); r3: only acc
SELECT pgtrack.run_add_metrics_batch(:r1, '[{"step": 1, "loss": 1.0, "acc": 0.1}, {"step": 2, "loss": 0.5}, {"step": 3, "loss": 0.7, "note": "x"}]');
SELECT pgtrack.run_add_metrics_batch(:r2, '[{"step": 1, "loss": 0.9}, {"step": 2, "loss": "NaN"}, {"step": 3, "loss": 0.6}]');
SELECT pgtrack.run_add_metrics_batch(:r3, '[{"step": 1, "acc": 0.9}]');
SELECT pgtrack.create_run(:e) AS plain \gset

SELECT results_eq(format('SELECT run_id, best, best_step, final, final_step FROM pgtrack.best_runs(%s, %L)', :e, 'loss'),
    format('VALUES (%s::bigint, 0.5::float8, 2::bigint, 0.7::float8, 3::bigint), (%s, 0.6, 3, 0.6, 3)', :r1, :r2),
    'best_runs(min): best first, NaN never best, runs without the metric left out');
SELECT results_eq(format('SELECT run_id, best FROM pgtrack.best_runs(%s, %L, %L)', :e, 'loss', 'max'),
    format('VALUES (%s::bigint, 1.0::float8), (%s, 0.9)', :r1, :r2), 'best_runs(max)');
SELECT is((SELECT identity FROM pgtrack.best_runs(:e, 'acc', 'max') LIMIT 1), '{"lr": 0.3}'::jsonb, 'identifying values come along');
SELECT is((SELECT status FROM pgtrack.best_runs(:e, 'acc') LIMIT 1), 'PENDING'::pgtrack.runstatus, 'status comes along');
SELECT throws_ok(format('SELECT * FROM pgtrack.best_runs(%s, %L)', :e, 'nope'), 'PT003', NULL, 'unknown metric: PT003');
SELECT throws_ok(format('SELECT * FROM pgtrack.best_runs(%s, %L)', :e, 'note'), 'PT003', NULL, 'non-numeric metric: PT003');
SELECT throws_ok(format('SELECT * FROM pgtrack.best_runs(%s, %L, %L)', :e, 'loss', 'lowest'), 'PT003', NULL, 'bad direction: PT003');
SELECT throws_ok(format('SELECT * FROM pgtrack.best_runs(%s, %L, NULL)', :e, 'loss'), 'PT003', NULL, 'NULL direction: PT003');
SELECT throws_ok($$SELECT * FROM pgtrack.best_runs(-1, 'loss')$$, 'PT002', NULL, 'missing experiment: PT002');
SELECT throws_ok(format('SELECT * FROM pgtrack.best_runs(%s, %L)', :e, 'x; DROP TABLE pgtrack.runs'), 'PT003', NULL, 'injection attempt is a bad name');

SELECT results_eq(format('SELECT metric, value, step FROM pgtrack.final_metrics(%s) ORDER BY metric', :r1),
    $$VALUES ('acc', '0.1'::jsonb, 1::bigint), ('loss', '0.7', 3), ('note', '"x"', 3)$$, 'final_metrics: last non-null value of each metric');
SELECT is((SELECT value FROM pgtrack.final_metrics(:r2) WHERE metric = 'loss'), '0.6'::jsonb, 'final after a NaN');
SELECT is((SELECT count(*)::int FROM pgtrack.final_metrics(:plain)), 0, 'a run without metrics has none');
SELECT throws_ok('SELECT * FROM pgtrack.final_metrics(-1)', 'PT002', NULL, 'missing run: PT002');

SELECT pgtrack.run_start(:r1), pgtrack.run_stop(:r1);
SELECT results_eq(format('SELECT status::text, runs FROM pgtrack.experiment_summary(%s)', :e),
    $$VALUES ('COMPLETED', 1::bigint), ('PENDING', 3)$$, 'experiment_summary counts by status');
SELECT ok((SELECT min_duration >= interval '0' AND last_heartbeat_age >= interval '0' FROM pgtrack.experiment_summary(:e) WHERE status = 'COMPLETED'),
    'durations and heartbeat ages');
SELECT throws_ok('SELECT * FROM pgtrack.experiment_summary(-1)', 'PT002', NULL, 'experiment_summary: missing experiment is PT002');

SELECT results_eq(format('SELECT run_id, step, value FROM pgtrack.metric_curves(%s, %L, 1)', :e, 'loss'),
    format('VALUES (%s::bigint, 3::bigint, 0.7333333333333334::float8), (%s, 3, 0.75)', :r1, :r2),
    'metric_curves: one bucket averages each run, non-finite values left out');
SELECT is((SELECT count(*)::int FROM pgtrack.metric_curves(:e, 'loss', 100, ARRAY[:r2]::bigint[])), 2, 'fewer steps than buckets: every point, only the given runs');
SELECT throws_ok(format('SELECT * FROM pgtrack.metric_curves(%s, %L, 0)', :e, 'loss'), 'PT003', NULL, 'buckets 0: PT003');

SELECT * FROM finish();
ROLLBACK;
