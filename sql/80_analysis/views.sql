-- Typed views per experiment, for psql and BI tools (Grafana, Metabase): one column per identifying
-- field with its type, the built-in and annotating run columns, and best_/final_ of every numeric
-- metric, so `SELECT lr, seed, best_val_loss FROM pgtrack_views.sweep ORDER BY best_val_loss` needs no
-- JSON operators. The views live in schema pgtrack_views (made by the owner on first use), outside the
-- extension (runtime objects, SPEC §2: pg_dump saves them), are `security_invoker` (a reader sees
-- through a view exactly what it may read in pgtrack.runs and pgtrack.metrics, nobody gains anything),
-- and pgtrack keeps them current: every schema change that affects them (metrics added, dropped or
-- renamed, run columns, identifying fields, renamed or deleted experiments, compaction) drops and
-- recreates them in its own transaction. A view is recognised by its comment, `pgtrack experiment N`.

CREATE OR REPLACE FUNCTION pgtrack._view_ids()
RETURNS bigint[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The experiments that have a view now. */
    SELECT coalesce(array_agg(substring(d.description FROM '^pgtrack experiment (\d+)$')::bigint), '{}')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
     WHERE n.nspname = 'pgtrack_views' AND c.relkind = 'v' AND d.description ~ '^pgtrack experiment \d+$'
$$;

CREATE OR REPLACE FUNCTION pgtrack._drop_experiment_views()
RETURNS bigint[]
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Drop every experiment view pgtrack made (so a schema change can go ahead); returns their
   experiments, for _create_experiment_views afterwards. Views of other roles are never touched.
   A view that something else depends on (a reader's view, temporary or not, built on it) is left as
   it is, and its experiment is not returned: it goes stale until that dependent is gone and the next
   schema change refreshes it, rather than failing the schema change for everyone. A schema change
   the stale view does block (dropping a metric it reads) says so with PT005 (_describe_view names
   the dependent and its owner). */
DECLARE
    v_ids  bigint[] := '{}';
    v_view regclass;
    v_id   bigint;
BEGIN
    FOR v_view, v_id IN
        SELECT c.oid::regclass, substring(d.description FROM '^pgtrack experiment (\d+)$')::bigint
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
         WHERE n.nspname = 'pgtrack_views' AND c.relkind = 'v' AND d.description ~ '^pgtrack experiment \d+$'
           AND c.relowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
    LOOP
        IF pgtrack._view_dependents(v_view) IS NULL THEN
            EXECUTE format('DROP VIEW %s', v_view);
            v_ids := v_ids || v_id;
        END IF;
    END LOOP;
    RETURN v_ids;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._unique_names(p_names text[])
RETURNS text[]
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* p_names made unique in order: a name that an earlier one already took (an identifying field
   final_lr and the metric lr's final_lr, say) becomes name_2, name_3, ... cut to 63 bytes so that
   PostgreSQL keeps it whole. Column names of generated views come through here, so no caller's name
   can make CREATE VIEW fail with a duplicate column. */
DECLARE
    v_out  text[] := '{}';
    v_name text;
    v_try  text;
    v_base text;
    v_n    integer;
BEGIN
    FOREACH v_name IN ARRAY p_names LOOP
        v_try := v_name;
        v_n := 1;
        WHILE v_try = ANY (v_out) LOOP
            v_n := v_n + 1;
            v_base := v_name;
            LOOP
                v_try := v_base || '_' || v_n;
                EXIT WHEN octet_length(v_try) <= 63;
                v_base := left(v_base, -1);
            END LOOP;
        END LOOP;
        v_out := v_out || v_try;
    END LOOP;
    RETURN v_out;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._create_experiment_views(p_ids bigint[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* (Re)create the view of each experiment in p_ids that still exists. Every name in the view's SQL
   comes from the catalog (identifying field names, run and metric columns) through format('%I'/%L);
   types of identifying fields come from a fixed list. */
DECLARE
    v_id      bigint;
    v_name    text;
    v_view    text;
    v_n       integer;
    v_exprs   text[];
    v_names   text[];
    v_columns text;
    v_aggs    text;
BEGIN
    IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM pgtrack._views_schema();
    FOREACH v_id IN ARRAY p_ids LOOP
        SELECT e.name INTO v_name FROM pgtrack.experiments e WHERE e.id = v_id;
        CONTINUE WHEN NOT FOUND;
        -- The view's name: the experiment's, else experiment_<id>, else experiment_<id>_<n>: names are
        -- tried until one is free, so no name (which a writer can set on any experiment) blocks this.
        v_view := CASE WHEN octet_length(v_name) <= 63 AND v_name !~ '[[:cntrl:]]' THEN v_name ELSE 'experiment_' || v_id END;
        v_n := 1;
        WHILE to_regclass(format('pgtrack_views.%I', v_view)) IS NOT NULL LOOP
            v_view := 'experiment_' || v_id || CASE WHEN v_n = 1 THEN '' ELSE '_' || v_n END;
            v_n := v_n + 1;
        END LOOP;
        -- Output columns as (expression, name): the run columns (built-in and annotating), the
        -- identifying fields not named like one, then best_ and final_ of each numeric metric (best is
        -- the minimum, or the maximum for names like a score). Names are made unique (_unique_names):
        -- an identifying field final_lr beside the metric lr gets final_lr, the metric final_lr_2.
        SELECT array_agg(format('r.%I', a.attname) ORDER BY a.attnum), array_agg(a.attname::text ORDER BY a.attnum)
          INTO v_exprs, v_names
          FROM pg_attribute a WHERE a.attrelid = 'pgtrack.runs'::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname NOT IN ('identity', 'experiment_id');
        SELECT v_exprs || coalesce(array_agg(format('(r.identity ->> %L)::%s', f.name,
                                   CASE f.type WHEN 'int' THEN 'bigint' WHEN 'float' THEN 'double precision'
                                               WHEN 'bool' THEN 'boolean' ELSE 'text' END) ORDER BY f.name), '{}'),
               v_names || coalesce(array_agg(f.name::text ORDER BY f.name), '{}')
          INTO v_exprs, v_names
          FROM pgtrack.identifying_fields f
         WHERE f.experiment_id = v_id
           AND f.name NOT IN (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'pgtrack.runs'::regclass AND a.attnum > 0);
        SELECT string_agg(format('%s(m.%I) FILTER (WHERE m.%I <> ''NaN'') AS b%s, '
                                 '(array_agg(m.%I ORDER BY m.step DESC, m.progress DESC) FILTER (WHERE m.%I IS NOT NULL))[1] AS f%s',
                                 CASE WHEN c.name ~* 'acc|auc|f1|precision|recall|score|reward|iou|bleu|map' THEN 'max' ELSE 'min' END,
                                 c.name, c.name, c.i, c.name, c.name, c.i), ', ' ORDER BY c.i) FILTER (WHERE e.k = 1),
               v_exprs || coalesce(array_agg(e.expr ORDER BY c.i, e.k), '{}'),
               v_names || coalesce(array_agg(e.prefix || c.name ORDER BY c.i, e.k), '{}')
          INTO v_aggs, v_exprs, v_names
          FROM (SELECT mc.name, row_number() OVER (ORDER BY mc.name) AS i
                  FROM pgtrack.metric_columns() mc JOIN pg_type t ON t.oid = mc.type
                 WHERE t.typcategory = 'N' AND octet_length(mc.name) <= 57) c  -- best_/final_ + name within 63 bytes
          CROSS JOIN LATERAL (VALUES (1, 'best_', 'm.b' || c.i), (2, 'final_', 'm.f' || c.i)) e(k, prefix, expr);
        v_names := pgtrack._unique_names(v_names);
        SELECT string_agg(format('%s AS %I', x.expr, x.name), ', ' ORDER BY x.k) INTO v_columns
          FROM unnest(v_exprs, v_names) WITH ORDINALITY x(expr, name, k);
        EXECUTE format('CREATE VIEW pgtrack_views.%I WITH (security_invoker = true) AS SELECT %s FROM pgtrack.runs r%s WHERE r.experiment_id = %s',
                       v_view, v_columns,
                       CASE WHEN v_aggs IS NULL THEN ''
                            ELSE format(' LEFT JOIN LATERAL (SELECT %s FROM pgtrack.metrics m WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id) m ON true', v_aggs) END,
                       v_id);
        EXECUTE format('COMMENT ON VIEW pgtrack_views.%I IS %L', v_view, 'pgtrack experiment ' || v_id);
    END LOOP;
    PERFORM pgtrack._grant_views();
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._views_schema()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Schema pgtrack_views, the owner's (made if missing; PT005 if another role made it first). Runs as
   the owner (called from SECURITY DEFINER functions). */
DECLARE
    v_owner name;
BEGIN
    SELECT r.rolname INTO v_owner FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'pgtrack_views';
    IF NOT FOUND THEN
        CREATE SCHEMA pgtrack_views;
        REVOKE ALL ON SCHEMA pgtrack_views FROM PUBLIC;
    ELSIF v_owner <> current_user THEN
        PERFORM pgtrack._raise('PT005', format('schema pgtrack_views belongs to %I, not to pgtrack''s owner %I', v_owner, current_user),
            'drop or rename that schema; pgtrack makes its own');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._refresh_experiment_views()
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    /* Recreate every experiment view from the catalog as it is now. */
    SELECT pgtrack._create_experiment_views(pgtrack._drop_experiment_views());
$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_view(experiment text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Create (or refresh) the typed view of an experiment, named by its name (or id); returns the view's
   qualified name, e.g. pgtrack_views.sweep. Granted to pgtrack_admin (and the owner). */
DECLARE
    v_id bigint;
BEGIN
    SELECT e.id INTO v_id FROM pgtrack.experiments e WHERE e.name = $1 OR ($1 ~ '^\d{1,18}$' AND e.id = $1::bigint)
     ORDER BY e.name = $1 DESC LIMIT 1;
    IF NOT FOUND THEN
        PERFORM pgtrack._raise('PT002', format('experiment %s does not exist', coalesce(quote_literal($1), 'NULL')),
            'pass the name (or id) of an experiment: SELECT name FROM pgtrack.experiments');
    END IF;
    PERFORM pgtrack._lock_schema();
    PERFORM pgtrack._create_experiment_views(ARRAY(SELECT DISTINCT i FROM unnest(pgtrack._drop_experiment_views() || v_id) i));
    RETURN (SELECT format('pgtrack_views.%I', c.relname)
              FROM pg_class c JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass
             WHERE c.relnamespace = 'pgtrack_views'::regnamespace AND d.description = 'pgtrack experiment ' || v_id);
END
$$;
COMMENT ON FUNCTION pgtrack.experiment_view(text) IS
$$Create or refresh a typed view of an experiment (name or id) in schema pgtrack_views, named after the experiment: one typed column per identifying field, the run columns, and best_<metric>/final_<metric> for each numeric metric (best is the minimum, the maximum for names like acc/auc/f1/score). security_invoker: readers see what they may read. Kept current by pgtrack on schema changes. Returns the view's name.$$;
