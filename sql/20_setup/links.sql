-- SQLTrack 0.1.4's table names: experiment_links and run_links, views over pgtrack's relationship tables.

CREATE OR REPLACE FUNCTION pgtrack._link_views()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* SQLTrack's docs call its link tables experiment_relationships and run_relationships (pgtrack's
   names); its 0.1.4 release renamed them experiment_links and run_links, and SQL written against that
   release names those. Two views by those names in schema pgtrack, so that such SQL reaches pgtrack's
   tables (with Client(schema='pgtrack'), plain names too). Each is a plain column list of its table,
   so PostgreSQL makes it updatable: INSERT and DELETE through it write the table. security_invoker:
   every read or write through a view needs the same privilege on the table as well (70_roles.sql
   grants both). Made when missing (setup() and an upgrade run this through _layout_0_3_0); an object
   of that name already there is left alone. */
BEGIN
    IF pg_catalog.to_regclass('pgtrack.experiment_links') IS NULL THEN
        CREATE VIEW pgtrack.experiment_links WITH (security_invoker = true) AS
            SELECT r.from_id, r.kind, r.to_id FROM pgtrack.experiment_relationships r;
        COMMENT ON VIEW pgtrack.experiment_links IS
            'SQLTrack 0.1.4''s name for pgtrack.experiment_relationships (updatable: INSERT and DELETE write the table)';
    END IF;
    IF pg_catalog.to_regclass('pgtrack.run_links') IS NULL THEN
        CREATE VIEW pgtrack.run_links WITH (security_invoker = true) AS
            SELECT r.from_id, r.kind, r.to_id FROM pgtrack.run_relationships r;
        COMMENT ON VIEW pgtrack.run_links IS
            'SQLTrack 0.1.4''s name for pgtrack.run_relationships (updatable: INSERT and DELETE write the table)';
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack._link_views() IS
$$Internal: create the views pgtrack.experiment_links and pgtrack.run_links (SQLTrack 0.1.4's table names) when missing.$$;
