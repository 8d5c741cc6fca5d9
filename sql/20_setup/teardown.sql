-- teardown(): the documented way to remove pgtrack with its data (DROP EXTENSION alone refuses while
-- the data tables use its types; DROP EXTENSION ... CASCADE drops only what depends on the extension).

CREATE OR REPLACE FUNCTION pgtrack.teardown(confirm text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Drop every data table (all experiments, runs and metrics) and the generated writer functions, so
   that DROP EXTENSION pgtrack then succeeds and a later CREATE EXTENSION + setup() starts empty.
   confirm must be the name of the current database, so it cannot run by accident. Objects of the
   users' that depend on the tables (views) make it fail with PostgreSQL's error naming them. */
BEGIN
    IF confirm IS DISTINCT FROM current_database() THEN
        PERFORM pgtrack._raise('PT003', format('teardown() drops all pgtrack data of database %I; confirm must be its name, got %s',
                                               current_database(), coalesce(quote_literal(confirm), 'NULL')),
            format('SELECT pgtrack.teardown(confirm => %L)', current_database()));
    END IF;
    IF to_regclass('pgtrack.meta') IS NOT NULL THEN
        PERFORM pgtrack._lock_schema();
    END IF;
    IF to_regnamespace('pgtrack_views') IS NOT NULL THEN
        PERFORM pgtrack._drop_experiment_views();
        IF NOT EXISTS (SELECT FROM pg_class c WHERE c.relnamespace = 'pgtrack_views'::regnamespace) THEN
            DROP SCHEMA pgtrack_views;  -- left in place if someone else keeps objects there
        END IF;
    END IF;
    DROP FUNCTION IF EXISTS pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint),
                            pgtrack._metrics_write_batch(bigint, jsonb, boolean, integer, bigint, boolean),
                            pgtrack._metrics_copy_begin(bigint, bigint, double precision, bigint, double precision, integer, bigint);
    DROP VIEW IF EXISTS pgtrack.experiment_links, pgtrack.run_links;  -- links.sql: over the tables below
    DROP TABLE IF EXISTS pgtrack.experiment_locks, pgtrack.metrics, pgtrack.run_relationships, pgtrack.runs, pgtrack.experiment_relationships,
                         pgtrack.identifying_fields, pgtrack.experiments, pgtrack.applied_migrations, pgtrack.meta;
END
$$;
COMMENT ON FUNCTION pgtrack.teardown(text) IS
$$Drop all pgtrack data (every table and generated function) so that DROP EXTENSION pgtrack succeeds; confirm => the current database's name. Owner only.$$;
