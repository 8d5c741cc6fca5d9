-- After the sweep: who ran what, and the best configurations by final validation loss.
\set QUIET on
\pset footer off
SELECT id AS exp FROM pgtrack.experiments WHERE name = 'sweep-demo' \gset
\echo
\echo 'Runs per worker (each configuration ran exactly once):'
SELECT worker, count(*) AS runs, count(*) FILTER (WHERE status = 'COMPLETED') AS completed, max(attempt) AS max_attempt
  FROM pgtrack.runs WHERE experiment_id = :exp GROUP BY worker ORDER BY worker;
\echo 'Top 5 configurations by final val_loss:'
SELECT r.id AS run, r.identity ->> 'lr' AS lr, r.identity ->> 'depth' AS depth, r.identity ->> 'seed' AS seed,
       round(m.val_loss::numeric, 4) AS final_val_loss, round(m.val_acc::numeric, 4) AS final_val_acc, r.worker
  FROM pgtrack.runs r
  JOIN LATERAL (SELECT * FROM pgtrack.metrics m WHERE m.run_id = r.id ORDER BY m.step DESC LIMIT 1) m ON true
 WHERE r.experiment_id = :exp
 ORDER BY m.val_loss, r.id
 LIMIT 5;
