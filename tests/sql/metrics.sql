-- run_add_metrics (merge-upsert, special floats, unknown names) and run_add_metrics_batch.
\set ON_ERROR_STOP 1
BEGIN;
SELECT plan(28);
SELECT pgtrack.add_metric('train_loss'), pgtrack.add_metric('val_loss'), pgtrack.add_metric('acc', 'real'),
       pgtrack.add_metric('epochs', 'integer'), pgtrack.add_metric('note', 'text'), pgtrack.add_metric('extra', 'jsonb');
SELECT pgtrack.create_run(pgtrack.experiment('metrics-test')) AS r \gset

SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 5, 0, %L)', :r, '{"train_loss": 0.5}'), 'first column');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 5, 0, %L)', :r, '{"val_loss": 0.7}'), 'second column, same step');
SELECT results_eq(format('SELECT train_loss, val_loss FROM pgtrack.metrics WHERE run_id = %s AND step = 5', :r),
    $$VALUES (0.5::float8, 0.7::float8)$$, 'two calls for one step merge into one row');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 5, 0, %L)', :r, '{"train_loss": 0.4, "val_loss": null}'), 'overwrite one, null other');
SELECT results_eq(format('SELECT train_loss, val_loss FROM pgtrack.metrics WHERE run_id = %s AND step = 5', :r),
    $$VALUES (0.4::float8, 0.7::float8)$$, 'given key overwritten; JSON null leaves the stored value');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 6, 0.5, %L)', :r, '{"train_loss": "NaN", "val_loss": "Infinity", "acc": "-Infinity"}'), 'special floats');
SELECT results_eq(format('SELECT train_loss = ''NaN'', val_loss = ''Infinity'', acc = ''-Infinity'' FROM pgtrack.metrics WHERE run_id = %s AND step = 6', :r),
    $$VALUES (true, true, true)$$, 'NaN, Infinity, -Infinity stored');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 7)', :r), 'empty object');
SELECT is((SELECT count(*)::int FROM pgtrack.metrics WHERE run_id = :r AND step = 7), 1, 'empty object still records the row');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 8, 0, %L)', :r, '{"epochs": 3, "note": "ok", "extra": {"a": [1]}}'), 'int, text, jsonb columns');
SELECT results_eq(format('SELECT epochs, note, extra FROM pgtrack.metrics WHERE run_id = %s AND step = 8', :r),
    $$VALUES (3, 'ok'::text, '{"a": [1]}'::jsonb)$$, 'typed values stored');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 9, 0, %L)', :r, '{"vall_loss": 1, "zz": 2}'), 'PT003',
    'unknown metrics vall_loss, zz', 'unknown names: PT003 listing them');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 9, 0, %L)', :r, '{"epochs": 1.5}'), 'PT003', NULL, 'wrong type: PT003');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, 9, 0, %L)', :r, '[1]'), 'PT003', NULL, 'not an object: PT003');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics(%s, NULL)', :r), 'PT003', NULL, 'NULL step: PT003');
SELECT is((SELECT count(*)::int FROM pgtrack.metrics WHERE run_id = :r AND step = 9), 0, 'failed calls wrote nothing');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics(%s, 10, 0, %L, set_updated => false)', :r, '{}'), 'set_updated => false');

-- batch
SELECT is(pgtrack.run_add_metrics_batch(:r, '[{"step": 20, "train_loss": 1}, {"step": 21, "progress": 0.5, "val_loss": 2}, {"step": 22}]'),
          3, 'batch returns rows written');
SELECT is(pgtrack.run_add_metrics_batch(:r, '[{"step": 30, "train_loss": 1}, {"step": 30, "val_loss": 2}, {"step": 30, "train_loss": 3}]'),
          1, 'rows with the same step inside one batch merge');
SELECT results_eq(format('SELECT train_loss, val_loss FROM pgtrack.metrics WHERE run_id = %s AND step = 30', :r),
    $$VALUES (3::float8, 2::float8)$$, 'later rows win within a batch');
SELECT lives_ok(format('SELECT pgtrack.run_add_metrics_batch(%s, %L)', :r, '[{"step": 20, "val_loss": 9}]'), 'batch merges with stored rows');
SELECT results_eq(format('SELECT train_loss, val_loss FROM pgtrack.metrics WHERE run_id = %s AND step = 20', :r),
    $$VALUES (1::float8, 9::float8)$$, 'batch upsert keeps other columns');
SELECT is(pgtrack.run_add_metrics_batch(:r, '[{"step": 20, "val_loss": 7}, {"step": 20, "train_loss": 8}, {"step": 30, "val_loss": 6}, {"step": 20, "val_loss": 5}]'),
          2, 'a step repeated in a batch over stored rows: merged first, then upserted');
SELECT results_eq(format('SELECT step, train_loss, val_loss FROM pgtrack.metrics WHERE run_id = %s AND step IN (20, 30) ORDER BY step', :r),
    $$VALUES (20::bigint, 8::float8, 5::float8), (30, 3, 6)$$, 'later rows win, stored columns kept');
-- The step range of a batch comes from its first and last rows; rows out of step order may miss a
-- stored step (50 here: the range is 48..49), and the batch must still merge into it.
SELECT pgtrack.run_add_metrics(:r, 50, 0, '{"train_loss": 1, "val_loss": 2}');
SELECT is(pgtrack.run_add_metrics_batch(:r, '[{"step": 48}, {"step": 50, "val_loss": 3}, {"step": 49, "train_loss": 4}]'),
    3, 'rows out of step order, one on a stored step outside the first/last range: three rows');
SELECT results_eq(format('SELECT step, train_loss, val_loss FROM pgtrack.metrics WHERE run_id = %s AND step BETWEEN 48 AND 50 ORDER BY step', :r),
    $$VALUES (48::bigint, NULL::float8, NULL::float8), (49, 4, NULL), (50, 1, 3)$$, 'the stored row merged, the new ones inserted');
SELECT throws_ok(format('SELECT pgtrack.run_add_metrics_batch(%s, %L)', :r, '[{"step": 40, "train_loss": 1}, {"step": 41, "bogus": 1}]'),
    'PT003', 'unknown metric bogus', 'batch with an unknown name: PT003 and nothing written');
SELECT is((SELECT count(*)::int FROM pgtrack.metrics WHERE run_id = :r AND step IN (40, 41)), 0, 'all or nothing');

SELECT * FROM finish();
ROLLBACK;
