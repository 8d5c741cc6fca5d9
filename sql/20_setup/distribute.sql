-- distribute(): the Citus layout of the data tables (docs/scale.md). Run on the coordinator after setup().
--
-- Layout: the small, rarely written tables (meta, applied_migrations, experiments,
-- experiment_relationships, identifying_fields, run_relationships) become reference tables (a copy on
-- every node); runs, metrics and experiment_locks are distributed by experiment_id and co-located, so
-- one experiment's registry (identity key, queue, claims), its runs and their metric rows live in one
-- shard, and joins of runs and metrics (the analysis functions) run on the workers. Citus requires every
-- unique key of a distributed table to include its distribution column and refuses foreign keys
-- between distributed tables that do not include it, hence:
--   runs: primary key (id, experiment_id), uuid unique with experiment_id; id stays unique (one
--         identity sequence; create_run checks an explicit id first), no longer enforced by an index;
--   metrics: primary key (run_id, step, progress, experiment_id), foreign key (run_id, experiment_id)
--         to runs, ON DELETE CASCADE as before;
--   run_relationships: no foreign keys to runs (a reference table cannot point at a distributed one):
--         delete_experiment removes its runs' relationships itself; a raw DELETE FROM pgtrack.runs
--         leaves them behind (docs/scale.md);
--   experiment_locks: one row per experiment, co-located with runs: the registry's lock. A row lock on
--         a reference table row locks its whole shard, so the experiments row cannot serve as it does
--         on a single server (locks.sql).

CREATE OR REPLACE FUNCTION pgtrack._is_distributed()
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    /* True once distribute() has run: the lock table exists only then. A syscache lookup; no SET
       search_path (it inlines; the one call is qualified).
       Statements that find a run by id carry "AND (NOT v_citus OR r.experiment_id = ...)" with this
       value in a PL/pgSQL variable: planned with the value, on one server the condition is gone (the
       planner keeps to the primary key on id: with "experiment_id = ..." and statistics older than the
       experiment it preferred runs_identity_key and filtered the whole experiment), and on Citus it is
       the equality on the distribution column that routes the statement to one shard. */
    SELECT pg_catalog.to_regclass('pgtrack.experiment_locks') IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION pgtrack._run_experiment(p_run_id bigint, p_experiment_id bigint)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The experiment to route a statement about run p_run_id with: p_experiment_id when given, else (on
   Citus only, where it is needed) looked up, one query over every shard. */
BEGIN
    IF p_experiment_id IS NULL AND pgtrack._is_distributed() THEN
        RETURN (SELECT r.experiment_id FROM pgtrack.runs r WHERE r.id = p_run_id);
    END IF;
    RETURN p_experiment_id;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._citus_ddl_settings(p_force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* On Citus (or with p_force), for the rest of this transaction: a transaction that changes a
   distributed table's definition and then writes to it (or creates functions over it) must use one
   connection per node (citus.multi_shard_modify_mode = sequential), and the identity trigger on runs
   needs citus.enable_unsafe_triggers (it only reads reference tables and the row itself, so it is
   safe on a shard). Nothing on a single server. */
BEGIN
    IF p_force OR pgtrack._is_distributed() THEN
        PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._citus_worker_grants()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Citus: on the workers, EXECUTE on the extension's SECURITY INVOKER functions for PUBLIC. Parts of a
   statement run on the workers as the calling role (the identity trigger on runs, is_lost in a
   pushed-down query), and Citus propagates GRANT EXECUTE only for functions it distributes, which an
   extension's functions without a distribution argument cannot be. Invoker functions can do no more
   than the caller's table privileges allow; SECURITY DEFINER functions stay closed. Sent with
   run_command_on_workers (outside this transaction; it is idempotent, and PUBLIC exists everywhere). */
DECLARE
    v_failed text;
BEGIN
    SELECT string_agg(format('%s: %s', w.nodename, w.result), '; ') INTO v_failed
      FROM run_command_on_workers(
               (SELECT format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', string_agg(p.oid::regprocedure::text, ', '))
                  FROM pg_proc p
                  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                                  AND d.refclassid = 'pg_extension'::regclass
                 WHERE p.pronamespace = 'pgtrack'::regnamespace AND NOT p.prosecdef)) w
     WHERE NOT w.success;
    IF v_failed IS NOT NULL THEN
        PERFORM pgtrack._raise('PT005', format('could not grant EXECUTE on pgtrack''s functions on the workers: %s', v_failed),
            'check that every worker is up and has the same pgtrack version (ALTER EXTENSION pgtrack UPDATE), then run SELECT pgtrack.setup();');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.distribute(shard_count integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
/* Turn this database's pgtrack tables into the Citus layout described above, keeping every row.
   Idempotent: a second call changes nothing and says so. PT005 when Citus is not installed in this
   database, or when called on a worker. shard_count: Citus' citus.shard_count when NULL (32). */
DECLARE
    v_shards integer := coalesce(shard_count, pg_catalog.current_setting('citus.shard_count', true)::integer, 32);
    v_table  text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        PERFORM pgtrack._raise('PT005', 'pgtrack.distribute() needs Citus, which is not installed in this database',
            'on a Citus coordinator: CREATE EXTENSION citus; add the workers (citus_add_node); then SELECT pgtrack.distribute(); see docs/scale.md');
    END IF;
    IF to_regclass('pgtrack.runs') IS NULL THEN
        PERFORM pgtrack._raise('PT005', 'pgtrack is not set up in this database', 'run SELECT pgtrack.setup(); first');
    END IF;
    IF NOT (SELECT pg_catalog.bool_or(groupid = 0) FROM pg_dist_node WHERE noderole = 'primary')
       OR (SELECT groupid FROM pg_dist_local_group) <> 0 THEN
        PERFORM pgtrack._raise('PT005', 'pgtrack.distribute() runs on the Citus coordinator',
            'connect to the coordinator and call it there (SELECT citus_set_coordinator_host(...) registers it)');
    END IF;
    IF v_shards IS NULL OR v_shards NOT BETWEEN 1 AND 64000 THEN
        PERFORM pgtrack._raise('PT003', format('shard_count must be between 1 and 64000, got %s', coalesce(v_shards::text, 'NULL')),
            'omit shard_count for Citus'' default (citus.shard_count)');
    END IF;
    PERFORM pgtrack._lock_schema();
    IF pgtrack._is_distributed() THEN
        RETURN 'already distributed';
    END IF;
    PERFORM pgtrack._citus_ddl_settings(true);

    -- Keys Citus cannot keep go first: foreign keys between tables that are about to be distributed or
    -- replicated differently, unique keys without the distribution column.
    ALTER TABLE pgtrack.metrics DROP CONSTRAINT IF EXISTS metrics_run_id_fkey;
    ALTER TABLE pgtrack.run_relationships DROP CONSTRAINT IF EXISTS run_relationships_from_id_fkey;
    ALTER TABLE pgtrack.run_relationships DROP CONSTRAINT IF EXISTS run_relationships_to_id_fkey;
    ALTER TABLE pgtrack.runs DROP CONSTRAINT IF EXISTS runs_experiment_id_fkey;
    ALTER TABLE pgtrack.identifying_fields DROP CONSTRAINT IF EXISTS identifying_fields_experiment_id_fkey;
    ALTER TABLE pgtrack.experiment_relationships DROP CONSTRAINT IF EXISTS experiment_relationships_from_id_fkey;
    ALTER TABLE pgtrack.experiment_relationships DROP CONSTRAINT IF EXISTS experiment_relationships_to_id_fkey;
    ALTER TABLE pgtrack.runs DROP CONSTRAINT runs_pkey;
    ALTER TABLE pgtrack.runs ADD CONSTRAINT runs_pkey PRIMARY KEY (id, experiment_id);
    ALTER TABLE pgtrack.runs DROP CONSTRAINT runs_uuid_key;
    ALTER TABLE pgtrack.runs ADD CONSTRAINT runs_uuid_key UNIQUE (uuid, experiment_id);
    ALTER TABLE pgtrack.metrics DROP CONSTRAINT metrics_pkey;
    ALTER TABLE pgtrack.metrics ADD CONSTRAINT metrics_pkey PRIMARY KEY (run_id, step, progress, experiment_id);

    CREATE TABLE pgtrack.experiment_locks (
        experiment_id bigint PRIMARY KEY
    );
    INSERT INTO pgtrack.experiment_locks (experiment_id) SELECT id FROM pgtrack.experiments;

    -- SQLTrack's link views (links.sql) go while their tables become reference tables, and come back below.
    DROP VIEW IF EXISTS pgtrack.experiment_links, pgtrack.run_links;
    FOREACH v_table IN ARRAY ARRAY['meta', 'applied_migrations', 'experiments', 'experiment_relationships',
                                   'identifying_fields', 'run_relationships'] LOOP
        PERFORM create_reference_table(format('pgtrack.%I', v_table)::regclass);
    END LOOP;
    PERFORM create_distributed_table('pgtrack.runs'::regclass, 'experiment_id', shard_count => v_shards, colocate_with => 'none');
    FOREACH v_table IN ARRAY ARRAY['experiment_locks', 'metrics'] LOOP
        PERFORM create_distributed_table(format('pgtrack.%I', v_table)::regclass, 'experiment_id', colocate_with => 'pgtrack.runs');
    END LOOP;

    -- The foreign keys Citus keeps: to the reference table experiments, and metrics to runs on the
    -- distribution column too (co-located).
    ALTER TABLE pgtrack.runs ADD CONSTRAINT runs_experiment_id_fkey
        FOREIGN KEY (experiment_id) REFERENCES pgtrack.experiments (id) ON DELETE CASCADE;
    ALTER TABLE pgtrack.experiment_locks ADD CONSTRAINT experiment_locks_experiment_id_fkey
        FOREIGN KEY (experiment_id) REFERENCES pgtrack.experiments (id) ON DELETE CASCADE;
    ALTER TABLE pgtrack.metrics ADD CONSTRAINT metrics_run_id_fkey
        FOREIGN KEY (run_id, experiment_id) REFERENCES pgtrack.runs (id, experiment_id) ON DELETE CASCADE;
    ALTER TABLE pgtrack.identifying_fields ADD CONSTRAINT identifying_fields_experiment_id_fkey
        FOREIGN KEY (experiment_id) REFERENCES pgtrack.experiments (id) ON DELETE CASCADE;
    ALTER TABLE pgtrack.experiment_relationships ADD CONSTRAINT experiment_relationships_from_id_fkey
        FOREIGN KEY (from_id) REFERENCES pgtrack.experiments (id) ON DELETE CASCADE;
    ALTER TABLE pgtrack.experiment_relationships ADD CONSTRAINT experiment_relationships_to_id_fkey
        FOREIGN KEY (to_id) REFERENCES pgtrack.experiments (id) ON DELETE CASCADE;

    PERFORM pgtrack._link_views();

    -- create_*_table copied the rows into the shards; the coordinator's own copies go.
    FOREACH v_table IN ARRAY ARRAY['meta', 'applied_migrations', 'experiments', 'experiment_relationships', 'identifying_fields',
                                   'run_relationships', 'runs', 'experiment_locks', 'metrics'] LOOP
        PERFORM truncate_local_data_after_distributing_table(format('pgtrack.%I', v_table)::regclass);
    END LOOP;
    INSERT INTO pgtrack.meta (key, value) VALUES ('distributed', 'citus')
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    PERFORM pgtrack._regenerate_writers();
    PERFORM pgtrack._role_grants();  -- the workers' grants (_citus_worker_grants) and the new lock table's
    RETURN format('distributed: runs, metrics and experiment_locks by experiment_id (%s co-located shards); meta, '
                  'applied_migrations, experiments, experiment_relationships, identifying_fields, run_relationships '
                  'as reference tables', v_shards);
END
$$;
COMMENT ON FUNCTION pgtrack.distribute(integer) IS
$$On a Citus coordinator, after setup(): turn the pgtrack tables (empty or holding data) into the distributed layout: runs, metrics (and a lock table) distributed by experiment_id and co-located, the other tables as reference tables, keys and foreign keys Citus accepts (docs/scale.md). Every row is kept; idempotent; PT005 without Citus.$$;
