-- Rebuilding pgtrack.metrics: compact_metrics() (past PostgreSQL's 1,600-attribute limit, which counts
-- dropped columns) and partition_metrics() (hash partitions on run_id) share one rebuild: a new table
-- with the live columns only, the rows copied, the old table dropped, the new one renamed, then its
-- constraints, indexes, comment, storage options and grants recreated under their old names, and the
-- writers regenerated. One transaction, under an ACCESS EXCLUSIVE lock on pgtrack.metrics for its
-- whole length: logging waits (time proportional to the table: docs/limits.md), readers too.

CREATE OR REPLACE FUNCTION pgtrack._metrics_partitions()
RETURNS integer
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* How many hash partitions pgtrack.metrics has (0: an ordinary table). */
    SELECT CASE WHEN c.relkind = 'p'
                THEN (SELECT count(*)::integer FROM pg_inherits i WHERE i.inhparent = c.oid) ELSE 0 END
      FROM pg_class c WHERE c.oid = to_regclass('pgtrack.metrics')
$$;

CREATE OR REPLACE FUNCTION pgtrack._view_dependents(p_view oid)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Views and rules built on view p_view, described (owner, temporary or not); NULL when none. */
    SELECT string_agg(DISTINCT format('%s %s (owner %I%s)', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'rule of' END,
                                      c.oid::regclass, c.relowner::regrole,
                                      CASE WHEN c.relpersistence = 't' THEN ', temporary: it goes when its session ends' ELSE '' END), ', ')
      FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
      JOIN pg_class c ON c.oid = r.ev_class
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = p_view AND r.ev_class <> p_view
$$;

CREATE OR REPLACE FUNCTION pgtrack._describe_view(p_view oid)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* "view s.v (owner alice)", and for a temporary view whose session it belongs to: a reader's
       temporary view on pgtrack.metrics blocks an admin's maintenance until it is dropped. A view
       that others are built on (pgtrack's own typed views, kept while a reader's view uses them)
       names those too: they are what has to go. */
    SELECT format('%s %s (owner %I%s)%s', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'rule of' END,
                  c.oid::regclass, c.relowner::regrole,
                  CASE WHEN c.relpersistence = 't' THEN ', temporary: it goes when its session ends' ELSE '' END,
                  ' used by ' || pgtrack._view_dependents(c.oid))
      FROM pg_class c WHERE c.oid = p_view
$$;

CREATE OR REPLACE FUNCTION pgtrack._column_blockers(p_column text)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Views and rules that use column p_column of pgtrack.metrics (they would make DROP COLUMN fail). */
    SELECT string_agg(DISTINCT pgtrack._describe_view(r.ev_class), ', ')
      FROM pg_attribute a
      JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum
      JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
     WHERE a.attrelid = 'pgtrack.metrics'::regclass AND a.attname = p_column AND r.ev_class <> 'pgtrack.metrics'::regclass
$$;

CREATE OR REPLACE FUNCTION pgtrack._metrics_blockers()
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* What would stop (or be lost by) a rebuild: views and rules on the table, foreign keys pointing at
       it, user triggers, row-level policies, publications. NULL when nothing. */
    SELECT string_agg(what, ', ') FROM (
        SELECT DISTINCT pgtrack._describe_view(r.ev_class) AS what
          FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
         WHERE d.refobjid = 'pgtrack.metrics'::regclass AND r.ev_class <> 'pgtrack.metrics'::regclass
        UNION ALL
        SELECT format('foreign key %I of %s', conname, conrelid::regclass) FROM pg_constraint
         WHERE contype = 'f' AND confrelid = 'pgtrack.metrics'::regclass
        UNION ALL
        SELECT format('trigger %I', tgname) FROM pg_trigger
         WHERE tgrelid = 'pgtrack.metrics'::regclass AND NOT tgisinternal
        UNION ALL
        SELECT format('policy %I', polname) FROM pg_policy WHERE polrelid = 'pgtrack.metrics'::regclass
        UNION ALL
        SELECT format('publication %I', p.pubname) FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
         WHERE pr.prrelid = 'pgtrack.metrics'::regclass
    ) x
$$;

CREATE OR REPLACE FUNCTION pgtrack._rebuild_metrics(p_partitions integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Rebuild pgtrack.metrics with p_partitions hash partitions on run_id (0: an ordinary table). Runs as
   the owner (called by SECURITY DEFINER functions). Every statement is built from catalog text of
   the owner's own table (constraint and index definitions, grants) and format('%I'/%s of integers),
   never from caller text. Returns how many dropped attributes the old table carried. */
DECLARE
    v_old       oid := 'pgtrack.metrics'::regclass;
    v_dropped   integer;
    v_blockers  text;
    v_columns   text;
    v_comment   text;
    v_options   text[];
    v_rebuild   text[];
    v_statement text;
    v_i         integer;
    v_views     bigint[];
BEGIN
    IF pgtrack._is_distributed() THEN
        PERFORM pgtrack._raise('PT005', 'pgtrack.metrics is distributed by Citus: it cannot be rebuilt, compacted or partitioned by pgtrack',
            'Citus already splits it into shards by experiment; on Citus, keep the number of metric columns added and dropped in check (docs/scale.md)');
    END IF;
    -- Locks in the order the writers take them: a metric write updates its run (runs), then inserts
    -- (metrics). The rebuild's foreign keys need SHARE ROW EXCLUSIVE on runs and experiments; taken
    -- after metrics, a writer holding its run's row and waiting for metrics made a deadlock (40P01).
    PERFORM pgtrack._execute_guarded('LOCK TABLE pgtrack.experiments, pgtrack.runs IN SHARE ROW EXCLUSIVE MODE');
    PERFORM pgtrack._execute_guarded('LOCK TABLE pgtrack.metrics IN ACCESS EXCLUSIVE MODE');
    v_views := pgtrack._drop_experiment_views();  -- pgtrack's own views, made again at the end
    v_blockers := pgtrack._metrics_blockers();
    IF v_blockers IS NOT NULL THEN
        PERFORM pgtrack._raise('PT005', format('cannot rebuild pgtrack.metrics: %s depend on it', v_blockers),
            'their owners drop them (DROP VIEW ...; a temporary view goes when its session ends), run this again, then create them again');
    END IF;
    SELECT count(*) FILTER (WHERE a.attisdropped),
           string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum) FILTER (WHERE NOT a.attisdropped)
      INTO v_dropped, v_columns
      FROM pg_attribute a WHERE a.attrelid = v_old AND a.attnum > 0;
    v_comment := obj_description(v_old, 'pg_class');
    SELECT c.reloptions INTO v_options FROM pg_class c WHERE c.oid = v_old;

    -- What the new table must get back, in order: constraints (primary key, unique, foreign key,
    -- exclusion) with their names, then indexes that back no constraint, then grants.
    SELECT array_agg(s ORDER BY o) INTO v_rebuild FROM (
        SELECT 1 AS o, format('ALTER TABLE pgtrack.metrics ADD CONSTRAINT %I %s', k.conname, pg_get_constraintdef(k.oid)) AS s
          FROM pg_constraint k WHERE k.conrelid = v_old AND k.contype IN ('p', 'u', 'f', 'x')
        UNION ALL
        SELECT 2, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY pgtrack.metrics ', ' ON pgtrack.metrics ')
          FROM pg_index i WHERE i.indrelid = v_old
           AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = v_old)
        UNION ALL
        SELECT 3, format('GRANT %s ON pgtrack.metrics TO %s%s', g.privilege_type,
                         CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                         CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
          FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) g LEFT JOIN pg_roles r ON r.oid = g.grantee
         WHERE c.oid = v_old AND g.grantee <> c.relowner
        UNION ALL
        SELECT 4, format('GRANT %s (%I) ON pgtrack.metrics TO %s%s', g.privilege_type, a.attname,
                         CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                         CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
          FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) g LEFT JOIN pg_roles r ON r.oid = g.grantee
         WHERE a.attrelid = v_old AND NOT a.attisdropped AND a.attacl IS NOT NULL
    ) x;

    EXECUTE 'CREATE TABLE pgtrack._metrics_rebuilt (LIKE pgtrack.metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
            'INCLUDING COMMENTS INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING STATISTICS INCLUDING GENERATED '
            'INCLUDING IDENTITY)' || CASE WHEN p_partitions > 0 THEN ' PARTITION BY HASH (run_id)' ELSE '' END;
    FOR v_i IN 0 .. p_partitions - 1 LOOP
        EXECUTE format('CREATE TABLE pgtrack.%I PARTITION OF pgtrack._metrics_rebuilt FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                       '_metrics_rebuilt_p' || v_i, p_partitions, v_i);
    END LOOP;
    EXECUTE format('INSERT INTO pgtrack._metrics_rebuilt (%s) SELECT %s FROM pgtrack.metrics', v_columns, v_columns);
    DROP TABLE pgtrack.metrics;
    ALTER TABLE pgtrack._metrics_rebuilt RENAME TO metrics;
    FOR v_i IN 0 .. p_partitions - 1 LOOP
        EXECUTE format('ALTER TABLE pgtrack.%I RENAME TO %I', '_metrics_rebuilt_p' || v_i, 'metrics_p' || v_i);
    END LOOP;
    FOREACH v_statement IN ARRAY coalesce(v_rebuild, '{}') LOOP
        EXECUTE v_statement;
    END LOOP;
    IF v_comment IS NOT NULL THEN
        EXECUTE format('COMMENT ON TABLE pgtrack.metrics IS %L', v_comment);
    END IF;
    IF v_options IS NOT NULL AND p_partitions = 0 THEN
        EXECUTE format('ALTER TABLE pgtrack.metrics SET (%s)', array_to_string(v_options, ', '));
    END IF;
    ANALYZE pgtrack.metrics;  -- a new table has no statistics; best_runs' plans need them
    PERFORM pgtrack._regenerate_writers();  -- new table, new plans
    PERFORM pgtrack._role_grants();  -- a new table: its grants again
    PERFORM pgtrack._create_experiment_views(v_views);
    RETURN v_dropped;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._make_room_for_metric()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Before add_metric adds a column (under the schema lock): PostgreSQL refuses a table with more than
   1,600 attributes, dropped ones included, and every ALTER TABLE gets slower as they pile up (at 1,500
   an add/drop pair took 360 ms on PostgreSQL 18, against 30 ms on a compact table). So from 800
   attributes on, with dropped ones to reclaim, a small table (at most pgtrack.auto_compact_max_bytes,
   default 1 GB: seconds of copying) is compacted here. A larger one is left alone until 10 short of
   the limit, then PT005 names compact_metrics(). At 1,596 live metric columns (the limit less
   run_id, step, progress, experiment_id) PT005 says so. */
DECLARE
    c_limit   CONSTANT integer := 1600;
    c_early   CONSTANT integer := 800;
    v_last    integer;
    v_dropped integer;
    v_bytes   bigint;
    v_max     bigint := coalesce(nullif(current_setting('pgtrack.auto_compact_max_bytes', true), '')::bigint, 1073741824);
BEGIN
    SELECT max(attnum), count(*) FILTER (WHERE attisdropped) INTO v_last, v_dropped
      FROM pg_attribute WHERE attrelid = 'pgtrack.metrics'::regclass AND attnum > 0;
    IF v_last < c_early THEN
        RETURN;
    END IF;
    IF v_dropped = 0 THEN
        IF v_last >= c_limit THEN
            PERFORM pgtrack._raise('PT005', format('pgtrack.metrics has %s metric columns, the most PostgreSQL allows (%s attributes)',
                                                   v_last - cardinality(pgtrack._builtin_columns('metrics')), c_limit),
                'drop metrics no longer needed (drop_metric), then add this one');
        END IF;
        RETURN;
    END IF;
    SELECT sum(pg_total_relation_size(c.oid)) INTO v_bytes FROM pg_class c  -- the table, or its partitions
     WHERE c.oid = 'pgtrack.metrics'::regclass
        OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = 'pgtrack.metrics'::regclass);
    IF v_bytes > v_max THEN
        IF v_last < c_limit - 10 THEN
            RETURN;  -- too large to copy inside add_metric, and not yet near the limit
        END IF;
        PERFORM pgtrack._raise('PT005', format('pgtrack.metrics is near PostgreSQL''s limit of %s attributes (%s in use, %s of them left by dropped metrics) and too large (%s) to compact inside add_metric',
                c_limit, v_last, v_dropped, pg_size_pretty(v_bytes)),
            'run SELECT pgtrack.compact_metrics(); when logging may wait for the copy (docs/limits.md), then add the metric');
    END IF;
    PERFORM pgtrack._rebuild_metrics(pgtrack._metrics_partitions());
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.compact_metrics()
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Rebuild pgtrack.metrics without the attributes that dropped metrics leave behind; same rows,
   columns, constraints, indexes, grants and partitioning. Returns how many were removed (0: nothing
   to do, nothing locked for long). */
DECLARE
    v_dropped integer;
BEGIN
    PERFORM pgtrack._lock_schema();
    SELECT count(*) INTO v_dropped FROM pg_attribute
     WHERE attrelid = 'pgtrack.metrics'::regclass AND attnum > 0 AND attisdropped;
    IF v_dropped = 0 THEN
        RETURN 0;
    END IF;
    RETURN pgtrack._rebuild_metrics(pgtrack._metrics_partitions());
END
$$;
COMMENT ON FUNCTION pgtrack.compact_metrics() IS
$$Rebuild pgtrack.metrics without the dropped attributes that count against PostgreSQL's 1,600-attribute limit: same rows, columns, constraints, indexes, grants and partitioning, in one transaction under an ACCESS EXCLUSIVE lock (logging waits while the rows are copied). Returns the number of dropped attributes removed. PT005 if views, foreign keys, triggers, policies or publications depend on the table.$$;

CREATE OR REPLACE FUNCTION pgtrack.partition_metrics(partitions integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Convert pgtrack.metrics to `partitions` hash partitions on run_id (1 to 1024), or back to an
   ordinary table with 0; the rows are copied in one transaction. Returns the partition count. */
BEGIN
    IF $1 IS NULL OR $1 < 0 OR $1 > 1024 THEN
        PERFORM pgtrack._raise('PT003', format('partitions must be between 0 and 1024, not %s', coalesce($1::text, 'NULL')),
            'pass 0 for an ordinary table, or a count such as 8 or 16');
    END IF;
    PERFORM pgtrack._lock_schema();
    IF pgtrack._metrics_partitions() IS DISTINCT FROM $1 THEN
        PERFORM pgtrack._rebuild_metrics($1);
    END IF;
    RETURN $1;
END
$$;
COMMENT ON FUNCTION pgtrack.partition_metrics(integer) IS
$$Convert pgtrack.metrics to the given number of hash partitions on run_id (0 converts back to an ordinary table), rows included, in one transaction under an ACCESS EXCLUSIVE lock; every metric function keeps working. Returns the partition count. PT003 outside 0..1024.$$;
