-- pgtrack 0.2.0 -> 0.3.0: the hand-written part of the upgrade. What follows it in the generated
-- script (every function, CREATE OR REPLACE) cannot change a signature, so functions whose
-- parameters or result changed are dropped here first and created again by the generated part;
-- data-table changes are explicit ALTERs (setup() cannot run inside an extension script).

-- The metric writers take add_missing (a metric nobody declared gets its column on first use).
DROP FUNCTION pgtrack.run_add_metrics(bigint, bigint, double precision, jsonb, boolean, integer);
DROP FUNCTION pgtrack.run_add_metrics_batch(bigint, jsonb, boolean, integer);
-- experiment_summary() reports lost runs.
DROP FUNCTION pgtrack.experiment_summary(bigint);

-- Lost runs: experiments.lost_after (the same statement as in setup()), and the layout version.
DO $$
BEGIN
    IF to_regclass('pgtrack.experiments') IS NOT NULL THEN
        ALTER TABLE pgtrack.experiments ADD COLUMN IF NOT EXISTS lost_after interval NOT NULL DEFAULT interval '10 minutes'
            CONSTRAINT experiments_lost_after_check CHECK (lost_after > interval '0');
        UPDATE pgtrack.meta SET value = '0.3.0' WHERE key = 'layout_version';
    END IF;
END
$$;
