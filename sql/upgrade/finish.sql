-- The end of every generated upgrade script (see Makefile).
--
-- setup() cannot run inside an extension script: PostgreSQL refuses CREATE ... IF NOT EXISTS on an
-- existing object that is not a member, and whatever the script creates becomes a member (which
-- pg_dump would then not save). So this tail runs the layout steps (sql/20_setup/layout.sql: guarded
-- ALTERs, the same ones setup() runs), then regenerates the metric writers for the current columns
-- and detaches them from the extension, as setup() would have left them. The
-- writers the old version generated are not members, and an extension script may not CREATE OR
-- REPLACE a non-member: they are dropped first (whatever their signature) and made anew. Views the
-- layout steps make here (SQLTrack's link views, sql/20_setup/links.sql) are detached the same way.
DO $$
DECLARE
    v_fn   regprocedure;
    v_view regclass;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'pgtrack'::regnamespace AND p.proname IN ('_metrics_write', '_metrics_write_batch', '_metrics_copy_begin')
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                            WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP FUNCTION %s', v_fn);
    END LOOP;
    IF to_regclass('pgtrack.metrics') IS NOT NULL THEN
        PERFORM pgtrack._layout();  -- every layout step (sql/20_setup/layout.sql), as setup() runs them
        PERFORM pgtrack._regenerate_writers();
        PERFORM pgtrack._role_grants();  -- new functions and columns of this version, for the roles
        FOR v_fn IN
            SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
              JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
             WHERE p.pronamespace = 'pgtrack'::regnamespace AND p.proname IN ('_metrics_write', '_metrics_write_batch', '_metrics_copy_begin')
        LOOP
            EXECUTE format('ALTER EXTENSION pgtrack DROP FUNCTION %s', v_fn);
        END LOOP;
        FOR v_view IN
            SELECT c.oid::regclass FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
             WHERE c.relnamespace = 'pgtrack'::regnamespace AND c.relkind = 'v' AND c.relname IN ('experiment_links', 'run_links')
        LOOP
            EXECUTE format('ALTER EXTENSION pgtrack DROP VIEW %s', v_view);
        END LOOP;
    END IF;
END
$$;
