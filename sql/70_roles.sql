-- Roles for teams: pgtrack_reader, pgtrack_writer, pgtrack_admin (NOLOGIN; grant them to login roles).
--
-- PUBLIC can do nothing: no USAGE on schema pgtrack and no EXECUTE on any function (90_privileges.sql).
-- Functions running as the caller (SECURITY INVOKER) are gated by the caller's table privileges, so
-- every role may execute them; the SECURITY DEFINER ones are granted per role below.
--   reader: SELECT on every table.
--   writer: reader + create experiments and runs, log metrics, tags/args/env, relationships,
--           register, enqueue, claim, heartbeat. Column privileges keep it from rewriting a run's
--           identity, experiment, id or uuid (no UPDATE on those), from deleting runs or experiments,
--           and from changing identifying fields. No TRIGGER, no TRUNCATE, no REFERENCES anywhere.
--   admin:  writer + schema changes (add_metric, drop_metric, rename_metric, add_run_column, migrate,
--           compact_metrics, partition_metrics),
--           identifying fields, float_precision, deleting runs and experiments.
-- setup() and teardown() stay with the owner.

CREATE OR REPLACE FUNCTION pgtrack._role_grants()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* (Re)apply the grants to whichever of the three roles exist. Called by grant_roles(), by setup()
   (so tables and columns a later version adds are covered) and by add_run_column (a new column). Runs
   as the owner (it is only called from SECURITY DEFINER functions). */
DECLARE
    v_user_columns text;
    v_role         text;
BEGIN
    IF pgtrack._is_distributed() THEN
        PERFORM pgtrack._citus_worker_grants();
    END IF;
    IF to_regrole('pgtrack_reader') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA pgtrack TO pgtrack_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA pgtrack TO pgtrack_reader;
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pgtrack_reader', pgtrack._invoker_functions());
    END IF;
    IF to_regrole('pgtrack_writer') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA pgtrack TO pgtrack_writer;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgtrack TO pgtrack_writer;
        GRANT SELECT ON ALL TABLES IN SCHEMA pgtrack TO pgtrack_writer;
        GRANT INSERT, UPDATE ON pgtrack.metrics TO pgtrack_writer;
        GRANT INSERT, DELETE ON pgtrack.run_relationships, pgtrack.experiment_relationships TO pgtrack_writer;
        IF pg_catalog.to_regclass('pgtrack.run_links') IS NOT NULL AND pg_catalog.to_regclass('pgtrack.experiment_links') IS NOT NULL THEN
            GRANT INSERT, DELETE ON pgtrack.run_links, pgtrack.experiment_links TO pgtrack_writer;  -- links.sql
        END IF;
        GRANT INSERT, UPDATE (name, comment, tags) ON pgtrack.experiments TO pgtrack_writer;
        SELECT string_agg(format('%I', a.attname), ', ') INTO v_user_columns
          FROM pg_attribute a
         WHERE a.attrelid = 'pgtrack.runs'::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname <> ALL ('{id,experiment_id,uuid,identity}'::name[]);
        EXECUTE format('GRANT INSERT, UPDATE (%s) ON pgtrack.runs TO pgtrack_writer', v_user_columns);
        PERFORM pgtrack._runs_insert_without_id('pgtrack_writer', false);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s, pgtrack._lock_experiment_shared(bigint), pgtrack._reserve_run_id(bigint),
                        pgtrack._insert_experiment(text, text, text[], integer),
                        pgtrack._refresh_experiment_views() TO pgtrack_writer',
                       pgtrack._invoker_functions());
    END IF;
    IF to_regrole('pgtrack_admin') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA pgtrack TO pgtrack_admin;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA pgtrack TO pgtrack_admin;
        GRANT SELECT, INSERT, UPDATE, DELETE ON pgtrack.experiments, pgtrack.runs, pgtrack.metrics, pgtrack.run_relationships,
              pgtrack.experiment_relationships, pgtrack.identifying_fields TO pgtrack_admin;
        IF pg_catalog.to_regclass('pgtrack.run_links') IS NOT NULL AND pg_catalog.to_regclass('pgtrack.experiment_links') IS NOT NULL THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON pgtrack.run_links, pgtrack.experiment_links TO pgtrack_admin;
        END IF;
        GRANT SELECT, INSERT ON pgtrack.applied_migrations TO pgtrack_admin;
        GRANT SELECT ON pgtrack.meta TO pgtrack_admin;
        PERFORM pgtrack._runs_insert_without_id('pgtrack_admin', true);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s, pgtrack._lock_experiment_shared(bigint), pgtrack._reserve_run_id(bigint),
                        pgtrack._insert_experiment(text, text, text[], integer),
                        pgtrack._lock_experiment_exclusive(bigint), pgtrack._lock_schema(), pgtrack._regenerate_writers(),
                        pgtrack.add_metric(text, regtype, text), pgtrack.drop_metric(text, boolean),
                        pgtrack.rename_metric(text, text), pgtrack.add_run_column(text, regtype, boolean, text),
                        pgtrack.compact_metrics(), pgtrack.partition_metrics(integer),
                        pgtrack.experiment_view(text), pgtrack._refresh_experiment_views(), pgtrack._drop_experiment_views(),
                        pgtrack._create_experiment_views(bigint[]) TO pgtrack_admin',
                       pgtrack._invoker_functions());
    END IF;
    -- Citus: the registry's lock rows are locked (and made on first use) as the caller (locks.sql).
    IF to_regclass('pgtrack.experiment_locks') IS NOT NULL THEN
        FOREACH v_role IN ARRAY ARRAY['pgtrack_writer', 'pgtrack_admin'] LOOP
            IF to_regrole(v_role) IS NOT NULL THEN
                EXECUTE format('GRANT SELECT, INSERT, UPDATE ON pgtrack.experiment_locks TO %I', v_role);
            END IF;
        END LOOP;
    END IF;
    PERFORM pgtrack._grant_views();
END
$$;

-- What a change of one kind needs, instead of every grant again: re-applying all of them rewrites the
-- catalog rows of every pgtrack table and function (a GRANT writes its row even when nothing changes),
-- which made each add_metric and drop_metric 5-10 times slower with the roles present, and
-- invalidated every session's cached plans of every pgtrack table.

CREATE OR REPLACE FUNCTION pgtrack._grant_writers()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* EXECUTE on the generated metric writers, which _regenerate_writers has just made anew, for whichever
   of the three roles exist (every role executes the SECURITY INVOKER functions: _role_grants). */
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['pgtrack_reader', 'pgtrack_writer', 'pgtrack_admin'] LOOP
        IF to_regrole(v_role) IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION
                                pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint),
                                pgtrack._metrics_write_batch(bigint, jsonb, boolean, integer, bigint, boolean),
                                pgtrack._metrics_copy_begin(bigint, bigint, double precision, bigint, double precision, integer, bigint)
                            TO %I', v_role);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrack._grant_writers() IS
$$Internal: EXECUTE on the generated metric writers for the pgtrack roles that exist.$$;

CREATE OR REPLACE FUNCTION pgtrack._grant_views()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* The typed experiment views (views.sql) for whichever of the three roles exist: security_invoker
   views, so reading one needs the tables too (_role_grants). */
DECLARE
    v_role text;
BEGIN
    IF to_regnamespace('pgtrack_views') IS NOT NULL THEN
        FOREACH v_role IN ARRAY ARRAY['pgtrack_reader', 'pgtrack_writer', 'pgtrack_admin'] LOOP
            IF to_regrole(v_role) IS NOT NULL THEN
                EXECUTE format('GRANT USAGE ON SCHEMA pgtrack_views TO %I', v_role);
                EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA pgtrack_views TO %I', v_role);
            END IF;
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack._grant_views() IS
$$Internal: USAGE and SELECT on the typed experiment views for the pgtrack roles that exist.$$;

CREATE OR REPLACE FUNCTION pgtrack._runs_insert_without_id(p_role name, p_update boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Citus: p_role may INSERT into runs every column but id, and create runs with an explicit id only
   through _create_run_with_id, which checks that no other experiment has it (a raw INSERT of another
   experiment's id made two runs with one id, and every call naming it without its experiment failed).
   On one server the primary key on id does that, and nothing changes. Runs as the owner.
   The coordinator checks a statement's privileges against the columns it names, so the limit is set
   on the coordinator's table only (DDL propagation off): the shards keep the table-wide INSERT granted
   just before, since the coordinator sends them every column, id included (filled from the sequence).
   With p_update (the admin, who may UPDATE every column of runs), UPDATE leaves out id the same way:
   an UPDATE of id to another experiment's would make the same duplicate.
   After Citus moves or adds shards, SELECT pgtrack.grant_roles() makes this so again (docs/scale.md). */
DECLARE
    v_columns   text;
    v_propagate text := pg_catalog.current_setting('citus.enable_ddl_propagation', true);
BEGIN
    IF NOT pgtrack._is_distributed() THEN
        RETURN;
    END IF;
    SELECT string_agg(format('%I', a.attname), ', ') INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = 'pgtrack.runs'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    EXECUTE format('REVOKE INSERT ON pgtrack.runs FROM %I', p_role);
    EXECUTE format('GRANT INSERT (%s) ON pgtrack.runs TO %I', v_columns, p_role);
    IF p_update THEN
        EXECUTE format('REVOKE UPDATE ON pgtrack.runs FROM %I', p_role);
        EXECUTE format('GRANT UPDATE (%s) ON pgtrack.runs TO %I', v_columns, p_role);
    END IF;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_propagate, true);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgtrack._create_run_with_id(bigint, bigint, pgtrack.runstatus, text, jsonb, jsonb, jsonb) TO %I',
                   p_role);
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._invoker_functions()
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Every SECURITY INVOKER function in schema pgtrack, as a GRANT list (the generated writers included). */
    SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text)
      FROM pg_proc p WHERE p.pronamespace = 'pgtrack'::regnamespace AND NOT p.prosecdef
$$;

CREATE OR REPLACE FUNCTION pgtrack.grant_roles()
RETURNS text[]
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Create the roles pgtrack_reader, pgtrack_writer and pgtrack_admin where missing (if the owner may
   create roles; otherwise create them yourself and call this again), grant each its privileges, and
   return the roles that exist. Idempotent; setup() re-applies the grants. */
DECLARE
    v_role text;
    v_can  boolean := (SELECT r.rolsuper OR r.rolcreaterole FROM pg_roles r WHERE r.rolname = current_user);
BEGIN
    FOREACH v_role IN ARRAY ARRAY['pgtrack_reader', 'pgtrack_writer', 'pgtrack_admin'] LOOP
        IF to_regrole(v_role) IS NULL AND v_can THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object THEN
                NULL;  -- created meanwhile by a grant_roles() in another database of the cluster
            END;
        END IF;
    END LOOP;
    PERFORM pgtrack._role_grants();
    RETURN ARRAY(SELECT r FROM unnest(ARRAY['pgtrack_reader', 'pgtrack_writer', 'pgtrack_admin']) r WHERE to_regrole(r) IS NOT NULL);
END
$$;
COMMENT ON FUNCTION pgtrack.grant_roles() IS
$$Create the roles pgtrack_reader, pgtrack_writer and pgtrack_admin if missing (when the owner may create roles) and grant each its privileges in this database; returns the roles that exist. Grant them to login roles: GRANT pgtrack_writer TO alice. Owner only.$$;
