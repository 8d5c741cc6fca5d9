-- The data tables' layout: one idempotent step per version that changed it, written once. setup()
-- creates the tables as the first version made them and then runs every step (_layout); an upgrade
-- script runs the same steps on the tables an older version made (its tail, sql/upgrade/finish.sql,
-- after the functions exist). Each statement is guarded by the catalog (IF NOT EXISTS, or a look at
-- pg_constraint or pg_attribute), so a step does nothing to a table that already has it.

CREATE OR REPLACE FUNCTION pgtrack._layout_0_3_0()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* 0.3.0: lost runs, refused rows, heartbeats, requests, row invariants, metric rows' experiment,
   SQLTrack 0.1.4's link views. */
BEGIN
    -- How long a run in a live status may be silent before it shows as lost (80_analysis/lost.sql).
    ALTER TABLE pgtrack.experiments ADD COLUMN IF NOT EXISTS lost_after interval NOT NULL DEFAULT interval '10 minutes'
        CONSTRAINT experiments_lost_after_check CHECK (lost_after > interval '0');
    -- Metric rows the server refused after the call that logged them had returned (a buffered row whose
    -- column was retyped, or whose domain's CHECK failed): counted here, the other rows of their flush
    -- stored (run_count_rejected).
    ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS metric_rows_rejected bigint NOT NULL DEFAULT 0;
    -- How often the run's holder promised a heartbeat (track() sets it): such a run counts as lost after
    -- three silent intervals, or the experiment's lost_after if that is shorter (lost.sql).
    ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS heartbeat_every interval
        CONSTRAINT runs_heartbeat_every_check CHECK (heartbeat_every > interval '0' AND heartbeat_every <= interval '1 day');
    -- The request (a uuid the client made) whose register/claim_next/create_run took the run last: the
    -- same request sent again after an ambiguous commit (the reply was lost) gets this run back instead
    -- of a second one (once.sql). Unique within an experiment: one request, one run.
    ALTER TABLE pgtrack.runs ADD COLUMN IF NOT EXISTS claim_request uuid;
    CREATE UNIQUE INDEX IF NOT EXISTS runs_claim_request_idx ON pgtrack.runs (experiment_id, claim_request)
        WHERE claim_request IS NOT NULL;
    -- Invariants that raw writes (a writer's column privileges) must keep too, so that no single row can
    -- stall the queue or stay alive forever: attempt within [0, 10^9] (claims skip a run at the top
    -- instead of overflowing), no liveness time more than 5 minutes ahead of the database clock, ids
    -- within 2^53 - 1 (the sequence moves past explicit ids). One constraint, not four: PostgreSQL 15
    -- reads every CHECK of a table from its catalog text for each statement that writes a row
    -- (stringToNode, then planning the expression), which was 6% of a register() of a new key; the
    -- error's DETAIL shows the row.
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'pgtrack.runs'::regclass AND conname = 'runs_bounds_check') THEN
        ALTER TABLE pgtrack.runs ADD CONSTRAINT runs_bounds_check
            CHECK (attempt BETWEEN 0 AND 1000000000 AND id BETWEEN 1 AND 9007199254740991
                   AND greatest(time_updated, time_created) <= clock_timestamp() + interval '5 minutes');
    END IF;
    -- Every metric row carries its run's experiment, the distribution column on Citus (metric rows live
    -- in the shard of their run: distribute.sql). The writers fill it; a raw INSERT must give it.
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'pgtrack.metrics'::regclass AND attname = 'experiment_id'
                                                AND NOT attisdropped) THEN
        ALTER TABLE pgtrack.metrics ADD COLUMN experiment_id bigint;
        UPDATE pgtrack.metrics m SET experiment_id = r.experiment_id FROM pgtrack.runs r WHERE r.id = m.run_id;
        ALTER TABLE pgtrack.metrics ALTER COLUMN experiment_id SET NOT NULL;
    END IF;
    -- SQLTrack 0.1.4's names for the relationship tables, as views (links.sql).
    PERFORM pgtrack._link_views();
END
$$;
COMMENT ON FUNCTION pgtrack._layout_0_3_0() IS
$$Internal: bring the data tables to the 0.3.0 layout (idempotent). setup() and the upgrade script call it.$$;

CREATE OR REPLACE FUNCTION pgtrack._layout()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Every layout step in version order (each idempotent), then the layout version in meta: what
   setup() and an upgrade script run on existing tables. Returns the layout version. */
DECLARE
    c_layout CONSTANT text := '0.3.0';
BEGIN
    PERFORM pgtrack._layout_0_3_0();
    INSERT INTO pgtrack.meta (key, value) VALUES ('layout_version', c_layout)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    RETURN c_layout;
END
$$;
COMMENT ON FUNCTION pgtrack._layout() IS
$$Internal: run every layout step (idempotent) and record the layout version; returns it.$$;
