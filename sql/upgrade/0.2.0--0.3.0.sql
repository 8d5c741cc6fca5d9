-- pgtrack 0.2.0 -> 0.3.0: the hand-written part of the upgrade. What follows it in the generated
-- script (every function, CREATE OR REPLACE) cannot change a signature, so functions whose
-- parameters or result changed are dropped here first and created again by the generated part;
-- data-table changes are explicit ALTERs (setup() cannot run inside an extension script).

-- The metric writers take add_missing (a metric nobody declared gets its column on first use).
DROP FUNCTION pgtrack.run_add_metrics(bigint, bigint, double precision, jsonb, boolean, integer);
DROP FUNCTION pgtrack.run_add_metrics_batch(bigint, jsonb, boolean, integer);
-- claim_next() takes retry_failed.
DROP FUNCTION pgtrack.claim_next(bigint, interval, text);
-- experiment_summary() reports lost runs.
DROP FUNCTION pgtrack.experiment_summary(bigint);
-- Run-id functions take the run's experiment (optional: checked, and one shard on Citus).
DROP FUNCTION pgtrack.run_start(bigint, timestamptz);
DROP FUNCTION pgtrack.run_stop(bigint, pgtrack.runstatus, text, integer);
DROP FUNCTION pgtrack.heartbeat(bigint, integer);
DROP FUNCTION pgtrack._lease_check_failed(bigint, integer);
DROP FUNCTION pgtrack._registration(bigint, boolean, boolean, boolean);
DROP FUNCTION pgtrack._apply_annotating(bigint, jsonb);
-- _validate_label() takes a length limit (an overload would make two-argument calls ambiguous).
DROP FUNCTION pgtrack._validate_label(text, text);

-- Lost runs: experiments.lost_after (the same statement as in setup()), and the layout version.
DO $$
BEGIN
    IF to_regclass('pgtrack.experiments') IS NOT NULL THEN
        ALTER TABLE pgtrack.experiments ADD COLUMN IF NOT EXISTS lost_after interval NOT NULL DEFAULT interval '10 minutes'
            CONSTRAINT experiments_lost_after_check CHECK (lost_after > interval '0');
        ALTER TABLE pgtrack.runs ADD CONSTRAINT runs_bounds_check
            CHECK (attempt BETWEEN 0 AND 1000000000 AND id BETWEEN 1 AND 9007199254740991
                   AND greatest(time_updated, time_created) <= clock_timestamp() + interval '5 minutes');
        -- Metric rows carry their run's experiment (setup.sql).
        ALTER TABLE pgtrack.metrics ADD COLUMN experiment_id bigint;
        UPDATE pgtrack.metrics m SET experiment_id = r.experiment_id FROM pgtrack.runs r WHERE r.id = m.run_id;
        ALTER TABLE pgtrack.metrics ALTER COLUMN experiment_id SET NOT NULL;
        -- Metric rows refused after their call returned (setup.sql).
        ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS metric_rows_rejected bigint NOT NULL DEFAULT 0;
        ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS heartbeat_every interval
            CONSTRAINT runs_heartbeat_every_check CHECK (heartbeat_every > interval '0' AND heartbeat_every <= interval '1 day');
        -- The request that took a run last (once.sql).
        ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS claim_request uuid;
        CREATE UNIQUE INDEX IF NOT EXISTS runs_claim_request_idx ON pgtrack.runs (experiment_id, claim_request)
            WHERE claim_request IS NOT NULL;
        UPDATE pgtrack.meta SET value = '0.3.0' WHERE key = 'layout_version';
    END IF;
END
$$;
