-- pgtrack quick start in plain SQL: two experiments, several runs, metric columns, per-epoch metrics,
-- then the best run of each experiment by its minimum validation loss, with its final metrics.
-- Run with: psql -v ON_ERROR_STOP=1 -f examples/quickstart.sql   (after CREATE EXTENSION + setup())
\set QUIET on
\pset footer off

-- Metric columns are typed columns of pgtrack.metrics; add each once (repeat calls return false).
SELECT pgtrack.add_metric('train_loss') AS a, pgtrack.add_metric('val_loss') AS b,
       pgtrack.add_metric('val_acc', 'real', 'validation accuracy') AS c \gset

-- Two experiments, each with a few runs whose hyperparameters differ, trained for 8 epochs.
-- The "training" is a closed-form loss curve so the demo is deterministic.
DO $$
DECLARE
    v_exp   bigint;
    v_run   bigint;
    v_lr    double precision;
    v_name  text;
    v_floor double precision;
BEGIN
    FOREACH v_name IN ARRAY ARRAY['mnist-mlp', 'cifar10-resnet'] LOOP
        v_exp := pgtrack.experiment(v_name, comment => 'quick start', tags => ARRAY['demo']);
        v_floor := CASE v_name WHEN 'mnist-mlp' THEN 0.05 ELSE 0.35 END;
        FOREACH v_lr IN ARRAY ARRAY[0.3, 0.1, 0.03, 0.01] LOOP
            v_run := pgtrack.create_run(v_exp, args => jsonb_build_object('lr', v_lr, 'epochs', 8),
                                        tags => ARRAY['grid']);
            PERFORM pgtrack.run_start(v_run);
            FOR epoch IN 1..8 LOOP
                PERFORM pgtrack.run_add_metrics(v_run, epoch, epoch / 8.0, jsonb_build_object(
                    'train_loss', v_floor + 2.0 / (1 + epoch * v_lr * 10) * (1 - v_lr),
                    'val_loss',   v_floor + 2.2 / (1 + epoch * v_lr * 10) * (1 - v_lr) + abs(v_lr - 0.1) * 2,
                    'val_acc',    1 - v_floor - 1.0 / (2 + epoch * v_lr * 10)));
            END LOOP;
            PERFORM pgtrack.run_stop(v_run);  -- COMPLETED
        END LOOP;
    END LOOP;
END
$$;

\echo
\echo 'Best run of each experiment (minimum val_loss), with its final metrics:'
SELECT e.name                            AS experiment,
       best.run_id                       AS run,
       best.args ->> 'lr'                AS lr,
       round(best.best_val_loss::numeric, 4) AS best_val_loss,
       last.step                         AS final_epoch,
       round(last.train_loss::numeric, 4) AS final_train_loss,
       round(last.val_loss::numeric, 4)  AS final_val_loss,
       round(last.val_acc::numeric, 4)   AS final_val_acc
  FROM pgtrack.experiments e
 CROSS JOIN LATERAL (
        SELECT r.id AS run_id, r.args, min(m.val_loss) AS best_val_loss
          FROM pgtrack.runs r JOIN pgtrack.metrics m ON m.run_id = r.id
         WHERE r.experiment_id = e.id
         GROUP BY r.id
         ORDER BY best_val_loss
         LIMIT 1) best
 CROSS JOIN LATERAL (
        SELECT m.* FROM pgtrack.metrics m WHERE m.run_id = best.run_id ORDER BY m.step DESC LIMIT 1) last
 WHERE e.name IN ('mnist-mlp', 'cifar10-resnet')
 ORDER BY e.name;
