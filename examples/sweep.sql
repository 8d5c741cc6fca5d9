-- A deduplicated sweep: identifying fields, a grid enqueued twice (the second time adds nothing),
-- and a worker procedure that claims runs with claim_next until the queue is empty. tools/demo.sh
-- starts several of these workers at once, each on its own connection.
\set QUIET on

SELECT pgtrack.experiment('sweep-demo', comment => 'grid over lr x depth x seed') AS exp \gset
SELECT pgtrack.declare_identifying(:exp, 'lr', 'float', doc => 'learning rate'),
       pgtrack.declare_identifying(:exp, 'depth', 'int', doc => 'number of layers'),
       pgtrack.declare_identifying(:exp, 'seed', 'int', '0', 'random seed') \gset

-- 3 x 3 x 2 = 18 configurations. Enqueueing two of them again adds nothing, even with float noise
-- (0.010000000000000002 is 0.01 at the experiment's 12 significant digits) or the seed left to its default.
SELECT pgtrack.enqueue(:exp, (SELECT jsonb_agg(jsonb_build_object('lr', lr, 'depth', depth, 'seed', seed))
                                FROM unnest(ARRAY[0.1, 0.01, 0.001]) lr, generate_series(2, 6, 2) depth,
                                     generate_series(0, 1) seed)) AS enqueued \gset
SELECT pgtrack.enqueue(:exp, '[{"lr": 0.010000000000000002, "depth": 2, "seed": 0}, {"lr": 0.1, "depth": 2}]') AS again \gset
\echo 'enqueued' :enqueued 'configurations; enqueueing 2 of them again (float noise, default seed) added' :again

-- The worker: claim, train (a closed-form curve), log per-epoch metrics with heartbeats, stop.
-- A procedure, so it can COMMIT after every epoch: progress is visible and durable at once.
CREATE OR REPLACE PROCEDURE public.pgtrack_demo_worker(p_experiment bigint, p_worker text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_claim pgtrack.registration;
    v_id    jsonb;
    v_loss  double precision;
BEGIN
    LOOP
        v_claim := pgtrack.claim_next(p_experiment, interval '1 minute', p_worker);
        EXIT WHEN v_claim.run_id IS NULL;
        COMMIT;
        SELECT identity INTO v_id FROM pgtrack.runs WHERE id = v_claim.run_id;
        FOR epoch IN 1..5 LOOP
            v_loss := 0.2 + abs(ln((v_id ->> 'lr')::float8 / 0.01)) * 0.1 + 1.0 / (epoch * (v_id ->> 'depth')::int)
                      + (v_id ->> 'seed')::int * 0.01;
            PERFORM pgtrack.run_add_metrics(v_claim.run_id, epoch, epoch / 5.0,
                jsonb_build_object('train_loss', v_loss * 0.9, 'val_loss', v_loss, 'val_acc', 1 - v_loss / 2));
            PERFORM pgtrack.heartbeat(v_claim.run_id, v_claim.attempt);  -- PT004 if someone took the run over
            PERFORM pg_sleep(0.01);
            COMMIT;
        END LOOP;
        PERFORM pgtrack.run_stop(v_claim.run_id, 'COMPLETED', attempt => v_claim.attempt);
        COMMIT;
    END LOOP;
END
$$;
