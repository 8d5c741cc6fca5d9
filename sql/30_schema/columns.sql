-- Typed columns added at run time: metric columns on pgtrack.metrics, annotating fields on pgtrack.runs.

CREATE OR REPLACE FUNCTION pgtrack._builtin_columns(p_table text)
RETURNS text[]
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The columns pgtrack itself defines; user columns may not take these names. */
    SELECT CASE p_table
        WHEN 'metrics' THEN ARRAY['run_id', 'step', 'progress', 'experiment_id']
        WHEN 'runs' THEN ARRAY['id', 'experiment_id', 'uuid', 'status', 'identity', 'attempt', 'time_created',
                               'time_started', 'time_updated', 'time_finished', 'comment', 'tags', 'args',
                               'env', 'error', 'worker', 'metric_rows_rejected', 'heartbeat_every',
                               'claim_request']
    END
$$;

CREATE OR REPLACE FUNCTION pgtrack._column_type(p_table text, p_name text)
RETURNS regtype
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Type of a live column of pgtrack.<p_table>, NULL if there is none. */
    SELECT a.atttypid::regtype
      FROM pg_attribute a
     WHERE a.attrelid = format('pgtrack.%I', p_table)::regclass
       AND a.attname = p_name AND a.attnum > 0 AND NOT a.attisdropped
$$;

CREATE OR REPLACE FUNCTION pgtrack._check_column_type(p_type regtype, p_name text, p_arrays boolean)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The types a column added by add_metric/add_run_column may have. Those functions run as the
   extension owner, and adding a column evaluates the type's DEFAULT and CHECK expressions (and every
   later write evaluates its CHECKs), so a type a caller controls would run the caller's code with the
   owner's rights. Allowed, therefore, only types that cannot carry a caller's code:
   - base types (only superusers can create them; their I/O functions are C), except the reg* types,
     which store OIDs and make pg_upgrade refuse the cluster;
   - enums and domains owned by the role this runs as (the extension owner), outside temporary schemas;
   - with p_arrays (run columns; a metric value is one scalar), arrays of allowed types.
   Composite, range, multirange and pseudo types are refused. Called from SECURITY DEFINER functions,
   so current_user is the extension owner. */
DECLARE
    v_type   record;
    v_reason text;
BEGIN
    SELECT t.typtype, t.typcategory, t.typelem, t.typowner, t.typname, n.nspname INTO v_type
      FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE t.oid = p_type;
    IF NOT FOUND THEN
        v_reason := 'it does not exist';
    ELSIF v_type.typcategory = 'A' AND v_type.typelem <> 0 THEN
        IF NOT p_arrays THEN
            v_reason := 'a metric holds one scalar value, not an array';
        ELSE
            PERFORM pgtrack._check_column_type(v_type.typelem::regtype, p_name, false);
            RETURN;
        END IF;
    ELSIF v_type.nspname ~ '^pg_(toast_)?temp_' THEN
        v_reason := 'it is a temporary type';
    ELSIF v_type.typtype = 'b' AND v_type.nspname = 'pg_catalog' AND v_type.typname ~ '^reg' THEN
        v_reason := 'reg* types store OIDs, which pg_upgrade refuses';
    ELSIF v_type.typtype IN ('d', 'e') AND v_type.typowner <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        v_reason := format('domains and enums must be owned by the extension owner %I (its DEFAULT/CHECK expressions would run with the owner''s rights)', current_user);
    ELSIF v_type.typtype NOT IN ('b', 'd', 'e') THEN
        v_reason := 'only base types, and enums and domains of the extension owner, are allowed';
    END IF;
    IF v_reason IS NOT NULL THEN
        PERFORM pgtrack._raise('PT003', format('type %s cannot be used for column %I: %s', coalesce(p_type::text, 'NULL'), p_name, v_reason),
            'use a built-in type such as double precision, real, bigint, integer, boolean, text, timestamptz or jsonb');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._add_column(p_table text, p_name text, p_type regtype, p_comment text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Shared by add_metric and add_run_column (both SECURITY DEFINER, with lock_timeout set). Validates
   the name and type, serialises on the schema lock, then: false if the same column exists, PT005 if
   it exists with another type, else adds it. */
DECLARE
    v_existing regtype;
BEGIN
    IF p_table = 'metrics' THEN
        PERFORM pgtrack._validate_metric_name(p_name, pgtrack._builtin_columns(p_table));
    ELSE
        PERFORM pgtrack._validate_name(p_name, 'run column', pgtrack._builtin_columns(p_table));
    END IF;
    PERFORM pgtrack._check_column_type(p_type, p_name, p_table = 'runs');
    PERFORM pgtrack._lock_schema();
    v_existing := pgtrack._column_type(p_table, p_name);
    IF v_existing IS NOT NULL AND v_existing <> p_type THEN
        PERFORM pgtrack._raise('PT005', format('column %I of pgtrack.%I exists with type %s, not %s', p_name, p_table, v_existing, p_type),
            'pick another name, or drop the column first');
    END IF;
    IF v_existing IS NULL AND p_table = 'metrics' THEN
        PERFORM pgtrack._make_room_for_metric();  -- the 1,600-attribute limit (rebuild.sql)
    END IF;
    IF v_existing IS NULL THEN
        PERFORM pgtrack._execute_guarded(format('ALTER TABLE pgtrack.%I ADD COLUMN %I %s', p_table, p_name, p_type));
    END IF;
    IF p_comment IS NOT NULL THEN
        EXECUTE format('COMMENT ON COLUMN pgtrack.%I.%I IS %L', p_table, p_name, p_comment);
    END IF;
    RETURN v_existing IS NULL;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._existing_metric(p_name text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Validate p_name and require that metric column to exist (PT003 naming the known ones otherwise). */
BEGIN
    PERFORM pgtrack._validate_metric_name(p_name, pgtrack._builtin_columns('metrics'));
    IF pgtrack._column_type('metrics', p_name) IS NULL THEN
        PERFORM pgtrack._raise('PT003', format('unknown metric %I', p_name),
            format('known metrics: %s', coalesce((SELECT string_agg(quote_ident(name), ', ') FROM pgtrack.metric_columns()), '(none)')));
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.add_metric(name text, type regtype DEFAULT 'double precision', comment text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Add a metric column to pgtrack.metrics; safe under concurrent callers (exactly one adds it). */
DECLARE
    v_added boolean;
BEGIN
    v_added := pgtrack._add_column('metrics', $1, $2, $3);
    IF v_added THEN
        PERFORM pgtrack._regenerate_writers();
        PERFORM pgtrack._refresh_experiment_views();  -- views/sql: best_/final_ of the new metric
    END IF;
    RETURN v_added;
END
$$;
COMMENT ON FUNCTION pgtrack.add_metric(text, regtype, text) IS
$$Add a metric column (default type double precision) to pgtrack.metrics. Returns true if added, false if a column of that name and type exists; PT005 if it exists with another type; PT003 for an invalid or reserved name, or a type that could run a caller's code (see docs/security.md). Type modifiers cannot pass through a regtype argument (varchar(3) arrives as varchar): to constrain values, use a domain owned by the extension owner. Safe under concurrent callers. From 800 attributes (dropped ones count, up to PostgreSQL's 1,600) it first compacts pgtrack.metrics when the table is at most pgtrack.auto_compact_max_bytes (default 1 GB), else near the limit PT005 names compact_metrics().$$;

CREATE OR REPLACE FUNCTION pgtrack.drop_metric(name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Drop a metric column; refused (PT005) while any row holds a value unless force is true. */
DECLARE
    v_rows     bigint;
    v_blockers text;
    v_views    bigint[];
BEGIN
    PERFORM pgtrack._lock_schema();
    PERFORM pgtrack._existing_metric($1);
    -- The table lock first, then the count: a writer that commits between a count and the lock would
    -- otherwise lose its values with the column.
    PERFORM pgtrack._execute_guarded('LOCK TABLE pgtrack.metrics IN ACCESS EXCLUSIVE MODE');
    IF NOT coalesce($2, false) THEN
        EXECUTE format('SELECT count(*) FROM pgtrack.metrics WHERE %I IS NOT NULL', $1) INTO v_rows;
        IF v_rows > 0 THEN
            PERFORM pgtrack._raise('PT005', format('metric %I has values in %s rows', $1, v_rows),
                format('to drop it with its data: SELECT pgtrack.drop_metric(%L, force => true)', $1));
        END IF;
    END IF;
    v_views := pgtrack._drop_experiment_views();  -- pgtrack's own views, made again below
    v_blockers := pgtrack._column_blockers($1);
    IF v_blockers IS NOT NULL THEN
        PERFORM pgtrack._raise('PT005', format('cannot drop metric %I: %s use it', $1, v_blockers),
            'their owners drop them (DROP VIEW ...; a temporary view goes when its session ends), then drop the metric');
    END IF;
    PERFORM pgtrack._execute_guarded(format('ALTER TABLE pgtrack.metrics DROP COLUMN %I', $1));
    PERFORM pgtrack._regenerate_writers();
    PERFORM pgtrack._create_experiment_views(v_views);
END
$$;
COMMENT ON FUNCTION pgtrack.drop_metric(text, boolean) IS
$$Drop a metric column. Refused (PT005) while any row has a value for it, unless force => true.$$;

CREATE OR REPLACE FUNCTION pgtrack.rename_metric(old_name text, new_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Rename a metric column; the new name follows the name rule and must be free. */
BEGIN
    PERFORM pgtrack._lock_schema();
    PERFORM pgtrack._existing_metric($1);
    PERFORM pgtrack._validate_metric_name($2, pgtrack._builtin_columns('metrics'));
    IF pgtrack._column_type('metrics', $2) IS NOT NULL THEN
        PERFORM pgtrack._raise('PT005', format('metric %I already exists', $2),
            'choose a new name that is not in pgtrack.metric_columns()');
    END IF;
    PERFORM pgtrack._execute_guarded(format('ALTER TABLE pgtrack.metrics RENAME COLUMN %I TO %I', $1, $2));
    PERFORM pgtrack._regenerate_writers();
    PERFORM pgtrack._refresh_experiment_views();
END
$$;
COMMENT ON FUNCTION pgtrack.rename_metric(text, text) IS
$$Rename a metric column (PT003 if old_name is unknown or new_name invalid, PT005 if new_name exists).$$;

CREATE OR REPLACE FUNCTION pgtrack.metric_columns()
RETURNS TABLE (name text, type regtype, comment text)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The declared metric columns, in column order. */
    SELECT a.attname::text, a.atttypid::regtype, col_description(a.attrelid, a.attnum)
      FROM pg_attribute a
     WHERE a.attrelid = to_regclass('pgtrack.metrics') AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> ALL (pgtrack._builtin_columns('metrics'))
     ORDER BY a.attnum
$$;
COMMENT ON FUNCTION pgtrack.metric_columns() IS
$$The declared metric columns of pgtrack.metrics: name, type and comment, in column order.$$;

CREATE OR REPLACE FUNCTION pgtrack.add_run_column(name text, type regtype, indexed boolean DEFAULT false, comment text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* A typed per-run field (wallow's annotating fields); writable through register()'s annotating.
   indexed builds a plain index inside this transaction: writes to runs wait while it builds (a
   moment for thousands of runs). On a large busy table create it yourself with CREATE INDEX
   CONCURRENTLY (docs/security.md, "Locks"); indexed => true then finds it and builds nothing. */
DECLARE
    v_added boolean;
BEGIN
    v_added := pgtrack._add_column('runs', $1, $2, $4);
    -- An index whose only key is this column, unless one exists; PostgreSQL picks a free name (a fixed
    -- name could collide with another index, or with a long name sharing its first 63 bytes).
    IF coalesce($3, false) AND NOT EXISTS (
            SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = 'pgtrack.runs'::regclass AND i.indnatts = 1 AND i.indpred IS NULL
               AND i.indexprs IS NULL AND a.attname = $1) THEN
        PERFORM pgtrack._execute_guarded(format('CREATE INDEX ON pgtrack.runs (%I)', $1));
    END IF;
    IF v_added THEN
        PERFORM pgtrack._role_grants();  -- pgtrack_writer may write the new annotating field
        PERFORM pgtrack._refresh_experiment_views();
    END IF;
    RETURN v_added;
END
$$;
COMMENT ON FUNCTION pgtrack.add_run_column(text, regtype, boolean, text) IS
$$Add a typed column to pgtrack.runs (an annotating field, writable through register(annotating => ...)); optionally indexed. Returns true if added, false if it exists with the same type; PT005 for another type; PT003 for an invalid or reserved name.$$;
