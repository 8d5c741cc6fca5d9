-- The metric writers: plain (non-member) functions generated from the current metric columns, so
-- each call runs a statement planned once instead of building dynamic SQL per call.

CREATE OR REPLACE FUNCTION pgtrack._metric_value_expr(p_source text, p_column name, p_type oid, p_qualified text)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* SQL expression reading metric p_column from the jsonb variable p_source, cast to the column's
       type (p_type; p_qualified: its schema.type, so a type named like a built-in in a caller's schema
       is never picked up). jsonb/json columns take the JSON value itself (a JSON null is "not given",
       like an absent key, so it never overwrites a stored value); others go through its text form, so
       "NaN"/"Infinity"/"-Infinity" strings work for float columns. The expression qualifies its
       operator: it runs in the generated writers, which do not pin search_path (metrics.sql). */
    SELECT CASE
        WHEN p_type = 'jsonb'::regtype THEN format('pgtrack._json_value(%s, %L)', p_source, p_column)
        WHEN p_type = 'json'::regtype  THEN format('pgtrack._json_value(%s, %L)::pg_catalog.json', p_source, p_column)
        ELSE format('(%s OPERATOR(pg_catalog.->>) %L)::%s', p_source, p_column, p_qualified)
    END
$$;

CREATE OR REPLACE FUNCTION pgtrack._json_value(p_source jsonb, p_key text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The value of p_key in p_source for a json/jsonb metric column; NULL for an absent key or a JSON null. */
    SELECT CASE WHEN jsonb_typeof(p_source -> p_key) = 'null' THEN NULL ELSE p_source -> p_key END
$$;

CREATE OR REPLACE FUNCTION pgtrack._create_generated(p_signature text, p_options text, p_body text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* CREATE OR REPLACE FUNCTION p_signature p_options AS 'p_body'. The body goes in as one string
   literal (%L), never between dollar quotes, so no text inside it (a metric name that holds $body$
   or a comment's end mark, say) can end it: caller text reaches generated code only as %I identifiers or %L literals,
   and the body as a whole only as a literal. p_signature and p_options are pgtrack's own constants. */
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION %s %s AS %L', p_signature, p_options, p_body);
END
$$;

-- Generated code is built from the named pieces below: each a constant template whose {{name}}
-- placeholders _fill replaces with pieces of code made by format('%I')/format('%L') from the catalog.
-- Caller text (a metric name) reaches generated code only that way; templates are pgtrack's own.

CREATE OR REPLACE FUNCTION pgtrack._fill(p_template text, p_values jsonb)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* p_template with every {{name}} replaced by p_values' text under name (a JSON null: nothing), in one
   pass: an inserted value is never read again, so a quoted metric name holding "{{touch}}" stays a
   name. A placeholder without a value is an error: a template and its caller disagree. */
DECLARE
    v_parts text[] := pg_catalog.regexp_split_to_array(p_template, '\{\{|\}\}');
    v_out   text := v_parts[1];
BEGIN
    FOR i IN 2 .. coalesce(cardinality(v_parts), 0) BY 2 LOOP
        IF NOT p_values ? v_parts[i] THEN
            RAISE EXCEPTION 'pgtrack._fill: no value for {{%}}', v_parts[i];
        END IF;
        v_out := v_out || coalesce(p_values ->> v_parts[i], '') || coalesce(v_parts[i + 1], '');
    END LOOP;
    RETURN v_out;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._piece_fenced_insert()
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $piece$
    /* The fence of every metric write, and the row, in one statement: the UPDATE touches only the run
       with the caller's attempt (any, when NULL) and experiment (any, when NULL) and holds its row lock
       to commit, so a concurrent claim (which bumps attempt) waits for this write instead of
       interleaving with it; the row is an upsert that merges ({{conflict}}). No run matched: no row.
       Placeholders: run, attempt, experiment, step, progress (expressions), columns and values
       (", a" lists), guard (a WHERE clause or nothing), conflict. Used by _metrics_write's first write
       of a run in a transaction and, as the statement of one unbuffered step, by clients
       (_metrics_statement). One server only: on Citus every write goes through the piece _touch. */
    SELECT $sql$WITH t AS (UPDATE pgtrack.runs r SET time_updated = pg_catalog.clock_timestamp()
            WHERE r.id OPERATOR(pg_catalog.=) {{run}}
              AND ({{attempt}} IS NULL OR r.attempt OPERATOR(pg_catalog.=) {{attempt}})
              AND ({{experiment}} IS NULL OR r.experiment_id OPERATOR(pg_catalog.=) {{experiment}})
           RETURNING r.id, r.experiment_id)
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id{{columns}})
        SELECT t.id, {{step}}, {{progress}}, t.experiment_id{{values}} FROM t{{guard}}
        ON CONFLICT (run_id, step, progress) {{conflict}}$sql$::text
$piece$;

CREATE OR REPLACE FUNCTION pgtrack._piece_touch()
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $piece$
    /* PL/pgSQL of every generated writer: touch (or just find) the run, PT002 if it does not exist,
       PT004 if p_attempt is given and is not the run's current attempt, PT003 if p_experiment_id is
       another experiment's. The row lock (UPDATE, or FOR SHARE) is held to commit, as in
       _piece_fenced_insert. At most one touch per run and transaction: every UPDATE of the same row
       in one transaction adds a row version that later ones must step over, so touching on every
       call made the cost per call grow with the calls (0.1.0: 409 us at 500 calls, 2,673 us at
       4,000). The run touched last is remembered in transaction-local settings (reverted with the
       transaction or savepoint); once touched, this transaction holds the run's row lock until it
       ends, so the attempt checked then cannot change. The time is a value, not a call, in the
       UPDATE: Citus refuses volatile calls there.
       Placeholders: resolve (Citus: look the experiment up when not given) and shard (Citus: the
       equality on the distribution column that keeps the statements on one shard); both empty on one
       server, where the planner keeps to the primary key. */
    SELECT $sql${{resolve}}    IF p_set_updated AND NOT coalesce(pg_catalog.current_setting('pgtrack.touched_run', true) OPERATOR(pg_catalog.=) p_run_id::pg_catalog.text, false) THEN
        v_now := pg_catalog.clock_timestamp();
        UPDATE pgtrack.runs r SET time_updated = v_now
         WHERE r.id OPERATOR(pg_catalog.=) p_run_id{{shard}} AND (p_attempt IS NULL OR r.attempt OPERATOR(pg_catalog.=) p_attempt)
        RETURNING r.experiment_id INTO v_experiment;
        IF v_experiment IS NULL OR v_experiment OPERATOR(pg_catalog.<>) coalesce(p_experiment_id, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed(p_run_id, p_attempt, p_experiment_id);
        END IF;
        v_setting := pg_catalog.set_config('pgtrack.touched_run', p_run_id::pg_catalog.text, true);
        v_setting := pg_catalog.set_config('pgtrack.touched_experiment', v_experiment::pg_catalog.text, true);
    ELSIF NOT p_set_updated OR p_attempt IS NOT NULL THEN  -- already touched: still check a given attempt
        SELECT r.experiment_id INTO v_experiment FROM pgtrack.runs r
         WHERE r.id OPERATOR(pg_catalog.=) p_run_id{{shard}} AND (p_attempt IS NULL OR r.attempt OPERATOR(pg_catalog.=) p_attempt)
           FOR SHARE;
        IF v_experiment IS NULL OR v_experiment OPERATOR(pg_catalog.<>) coalesce(p_experiment_id, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed(p_run_id, p_attempt, p_experiment_id);
        END IF;
    ELSE  -- this transaction touched the run (and holds its row lock): its experiment is remembered
        v_experiment := pg_catalog.current_setting('pgtrack.touched_experiment', true)::pg_catalog.int8;
        IF v_experiment IS NULL OR v_experiment OPERATOR(pg_catalog.<>) coalesce(p_experiment_id, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed(p_run_id, NULL, p_experiment_id);
            v_experiment := (SELECT r.experiment_id FROM pgtrack.runs r WHERE r.id OPERATOR(pg_catalog.=) p_run_id{{shard}});
        END IF;
    END IF;
$sql$::text
$piece$;

CREATE OR REPLACE FUNCTION pgtrack._piece_write()
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $piece$
    /* The body of _metrics_write: unknown names are PT003; on one server the first write of a run in
       a transaction (every call in autocommit) is the one statement of _piece_fenced_insert, since each
       PL/pgSQL statement has a cost of its own (docs/design.md, "Where the time goes"); when it
       matches no run, and on every later write, _piece_touch does the checks, then the upsert. */
    SELECT $sql$/* GENERATED by pgtrack._regenerate_writers() for {{count}} metric columns; do not edit. */
#variable_conflict use_variable
DECLARE
    v_now        pg_catalog.timestamptz;
    v_setting    pg_catalog.text;  -- set_config's result (an assignment is a plain expression; PERFORM runs a query)
    v_experiment pg_catalog.int8;  -- the run's experiment, written with the metric row
BEGIN
    IF (p_metrics OPERATOR(pg_catalog.-) {{known}}::pg_catalog.text[]) OPERATOR(pg_catalog.<>) '{}'::pg_catalog.jsonb THEN
        PERFORM pgtrack._unknown_metrics(p_metrics, {{known}}::pg_catalog.text[]);
    END IF;
{{first_write}}{{touch}}    INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id{{columns}})
    VALUES (p_run_id, p_step, p_progress, v_experiment{{values}})
    ON CONFLICT ({{key}}) {{conflict}};
END
$sql$::text
$piece$;

CREATE OR REPLACE FUNCTION pgtrack._piece_first_write()
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $piece$
    /* _metrics_write's first write of a run in a transaction: {{fenced_insert}}, then the settings
       _piece_touch reads. When the statement returned no row (no run matched; or, with no metric
       column, the row existed) _piece_touch follows and says why, or writes. */
    SELECT $sql$    IF p_set_updated AND NOT coalesce(pg_catalog.current_setting('pgtrack.touched_run', true) OPERATOR(pg_catalog.=) p_run_id::pg_catalog.text, false) THEN
        {{fenced_insert}}
        RETURNING m.experiment_id INTO v_experiment;
        IF v_experiment IS NOT NULL THEN
            v_setting := pg_catalog.set_config('pgtrack.touched_run', p_run_id::pg_catalog.text, true);
            v_setting := pg_catalog.set_config('pgtrack.touched_experiment', v_experiment::pg_catalog.text, true);
            RETURN;
        END IF;
    END IF;
$sql$::text
$piece$;

CREATE OR REPLACE FUNCTION pgtrack._piece_write_batch()
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $piece$
    /* The body of _metrics_write_batch. Placeholders: count, known (the names a row may hold),
       columns, merge (per column, the last non-null value of a (step, progress) in the batch), extract
       (per column, its value from a jsonb row), fast and coldefs (jsonb_to_recordset's columns),
       touch, key, conflict, range ("false AND" on Citus: always the upsert, since the range check
       would visit every shard). */
    SELECT $sql$/* GENERATED by pgtrack._regenerate_writers() for {{count}} metric columns; do not edit.
   One pass validates the rows; the first and last give their step range. New steps (no stored row of the run in
   that range: the usual batch) go in as plain inserts through jsonb_to_recordset, other batches as
   an upsert; a (step, progress) repeated in the batch (or a raw INSERT racing this one) then fails on
   the primary key or in ON CONFLICT, and the caller (_metrics_batch_guarded) calls again with p_merge,
   which merges rows sharing (step, progress) first, later rows winning.
   A metric column named like a variable here (p_run_id, v_experiment) is one: the variable wins. */
#variable_conflict use_variable
DECLARE
    v_bad     boolean;
    v_first   pg_catalog.int8;
    v_last    pg_catalog.int8;
    v_count   integer;
    v_now     pg_catalog.timestamptz;
    v_setting pg_catalog.text;
    v_experiment pg_catalog.int8;
BEGIN
    SELECT pg_catalog.bool_or(pg_catalog.jsonb_typeof(r.v) OPERATOR(pg_catalog.<>) 'object'
                              OR (r.v OPERATOR(pg_catalog.-) {{known}}::pg_catalog.text[]) OPERATOR(pg_catalog.<>) '{}'::pg_catalog.jsonb)
      INTO v_bad
      FROM pg_catalog.jsonb_array_elements(p_rows) r(v);
    IF v_bad THEN
        PERFORM pgtrack._bad_metric_rows(p_rows, {{known}}::pg_catalog.text[]);
    END IF;
    -- The batch's step range from its first and last rows: exact for rows in step order (the usual
    -- batch). For others it may miss a stored step; the plain insert then fails on the primary key and
    -- the caller writes the batch again with p_merge, so the range only chooses the faster path.
    v_first := coalesce((p_rows OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int8, 0);
    v_last := coalesce((p_rows OPERATOR(pg_catalog.->) -1 OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int8, 0);
    IF v_first OPERATOR(pg_catalog.>) v_last THEN
        v_first := v_last;
        v_last := coalesce((p_rows OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int8, 0);
    END IF;
{{touch}}    IF p_merge THEN
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id{{columns}})
        SELECT p_run_id, s.step, s.progress, v_experiment{{merge}}
          FROM (SELECT r.o AS run_id,  -- the row's position, under a name no metric column can have
                       coalesce((r.v OPERATOR(pg_catalog.->>) 'step')::bigint, 0) AS step,
                       coalesce((r.v OPERATOR(pg_catalog.->>) 'progress')::double precision, 0) AS progress{{extract}}
                  FROM pg_catalog.jsonb_array_elements(p_rows) WITH ORDINALITY AS r(v, o)) s
         GROUP BY s.step, s.progress
        ON CONFLICT ({{key}}) {{conflict}};
    ELSIF {{range}} NOT EXISTS (SELECT FROM pgtrack.metrics m
                         WHERE m.run_id OPERATOR(pg_catalog.=) p_run_id
                           AND m.step OPERATOR(pg_catalog.>=) v_first AND m.step OPERATOR(pg_catalog.<=) v_last) THEN
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id{{columns}})
        SELECT p_run_id, coalesce(r.step, 0), coalesce(r.progress, 0), v_experiment{{fast}}
          FROM pg_catalog.jsonb_to_recordset(p_rows) AS r(step bigint, progress double precision{{coldefs}});
    ELSE
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id{{columns}})
        SELECT p_run_id, coalesce(r.step, 0), coalesce(r.progress, 0), v_experiment{{fast}}
          FROM pg_catalog.jsonb_to_recordset(p_rows) AS r(step bigint, progress double precision{{coldefs}})
        ON CONFLICT ({{key}}) {{conflict}};
    END IF;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$sql$::text
$piece$;

CREATE OR REPLACE FUNCTION pgtrack._piece_copy_begin()
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $piece$
    /* The body of _metrics_copy_begin, the first half of the Python client's buffered writes
       (python/pgtrack/_copy.py): the touch of every write ({{touch}}), then the run's experiment if no
       metrics row of the run lies in the batch's (step, progress) range, so the caller may COPY the
       rows in (plain inserts: no conflict to resolve); NULL when some does (the caller writes through
       _metrics_write_batch, whose upsert merges). The row lock of the touch is held to commit, so no
       pgtrack writer can add a row to the run before the COPY; a raw INSERT can, and then the COPY
       fails on the primary key and the caller falls back to the upsert. {{distributed}}: on Citus,
       always NULL (the COPY path is not used on a distributed database). */
    SELECT $sql$/* GENERATED by pgtrack._regenerate_writers(); do not edit. */
#variable_conflict use_variable
DECLARE
    p_set_updated CONSTANT boolean := true;
    v_now        timestamptz;
    v_setting    text;
    v_experiment int8;
BEGIN
{{distributed}}{{touch}}    IF EXISTS (SELECT FROM pgtrack.metrics m
                WHERE m.run_id = p_run_id
                  AND (m.step, m.progress) >= (p_first_step, p_first_progress)
                  AND (m.step, m.progress) <= (p_last_step, p_last_progress)) THEN
        RETURN NULL;
    END IF;
    RETURN v_experiment;
END
$sql$::text
$piece$;

CREATE OR REPLACE FUNCTION pgtrack._merge_action(p_names text[])
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The conflict action of every metric upsert: a column given as NULL keeps its stored value, so
       several writes of one (run_id, step, progress) merge their columns. */
    SELECT coalesce('DO UPDATE SET ' || string_agg(format('%1$I = coalesce(EXCLUDED.%1$I, m.%1$I)', n), ', ' ORDER BY o),
                    'DO NOTHING')
      FROM unnest(p_names) WITH ORDINALITY AS u(n, o)
$$;

CREATE OR REPLACE FUNCTION pgtrack._column_list(p_names text[])
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* ", a, b": the names as identifiers, each after a comma, for a column list that starts with pgtrack's own. */
    SELECT coalesce(string_agg(format(', %I', n), '' ORDER BY o), '') FROM unnest(p_names) WITH ORDINALITY AS u(n, o)
$$;

CREATE OR REPLACE FUNCTION pgtrack._regenerate_writers()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* (Re)create pgtrack._metrics_write, _metrics_write_batch and _metrics_copy_begin for the metric
   columns that exist now, from the pieces above. Called by setup, add_metric, drop_metric,
   rename_metric and migrate. The generated functions are not extension members (pg_dump saves them,
   and setup() can always rebuild them). On Citus the writers run on the coordinator only (they route
   their statements to the shards), so their definition is not propagated to the workers:
   propagating a function after multi-shard work in the same transaction is refused by Citus. */
DECLARE
    v_citus     boolean := pgtrack._is_distributed();
    v_names     text[];
    v_common    jsonb;  -- the values every body shares
    v_touch     text;
    v_propagate text;
    -- CREATE OR REPLACE keeps a function's privileges: only a writer made anew (setup), or one that PUBLIC
    -- may execute (a restore without privileges, pg_restore -x, leaves the default, which includes
    -- PUBLIC; a hand-made GRANT), needs PUBLIC's EXECUTE revoked and the roles' granted: a catalog read
    -- decides. A GRANT costs about 4 ms a statement, which made every add_metric and drop_metric 25 ms
    -- slower with the roles present.
    c_writers CONSTANT text[] := ARRAY[
        'pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint)',
        'pgtrack._metrics_write_batch(bigint, jsonb, boolean, integer, bigint, boolean)',
        'pgtrack._metrics_copy_begin(bigint, bigint, double precision, bigint, double precision, integer, bigint)'];
    v_new boolean := EXISTS (SELECT FROM unnest(c_writers) w WHERE to_regprocedure(w) IS NULL)
                  OR EXISTS (SELECT FROM unnest(c_writers) w
                               JOIN pg_proc p ON p.oid = to_regprocedure(w)
                              CROSS JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE');
BEGIN
    -- One pass over the columns; each type's schema.type comes from the join (a function per column
    -- cost 0.3 ms each: regenerating the writers was 40% lookups).
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}'),
           jsonb_build_object(
               'count', count(*)::text,
               'columns', coalesce(string_agg(format(', %I', a.attname), '' ORDER BY a.attnum), ''),
               'values', string_agg(', ' || pgtrack._metric_value_expr('p_metrics', a.attname, a.atttypid, q.qualified), ''
                                    ORDER BY a.attnum),
               'extract', string_agg(format(', %s AS %I', pgtrack._metric_value_expr('r.v', a.attname, a.atttypid, q.qualified),
                                            a.attname), '' ORDER BY a.attnum),
               'merge', string_agg(format(', (pg_catalog.array_agg(s.%1$I ORDER BY s.run_id DESC) FILTER (WHERE s.%1$I IS NOT NULL))[1]',
                                          a.attname), '' ORDER BY a.attnum),
               'fast', string_agg(format(', r.%I', a.attname), '' ORDER BY a.attnum),
               'coldefs', string_agg(format(', %I %s', a.attname, q.qualified), '' ORDER BY a.attnum),
               -- the conflict target: the primary key, which on Citus also holds the distribution column
               'key', CASE WHEN v_citus THEN 'run_id, step, progress, experiment_id' ELSE 'run_id, step, progress' END)
      INTO v_names, v_common
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_namespace n ON n.oid = t.typnamespace
     CROSS JOIN LATERAL (SELECT format('%I.%I', n.nspname, t.typname) AS qualified) q
     WHERE a.attrelid = 'pgtrack.metrics'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> ALL (pgtrack._builtin_columns('metrics'));
    v_common := v_common || jsonb_build_object('conflict', pgtrack._merge_action(v_names));
    v_touch := pgtrack._fill(pgtrack._piece_touch(), CASE WHEN v_citus
        THEN jsonb_build_object('shard', ' AND r.experiment_id OPERATOR(pg_catalog.=) p_experiment_id', 'resolve',
                                E'    IF p_experiment_id IS NULL THEN\n'
                                || E'        p_experiment_id := (SELECT r.experiment_id FROM pgtrack.runs r WHERE r.id OPERATOR(pg_catalog.=) p_run_id);\n'
                                || E'    END IF;\n')
        ELSE '{"shard": "", "resolve": ""}' END);
    IF v_citus THEN
        v_propagate := pg_catalog.current_setting('citus.enable_ddl_propagation');
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;

    PERFORM pgtrack._create_generated(
        'pgtrack._metrics_write(p_run_id bigint, p_step bigint, p_progress double precision, p_metrics jsonb,
                                p_set_updated boolean, p_attempt integer, p_experiment_id bigint)',
        'RETURNS void LANGUAGE plpgsql',
        pgtrack._fill(pgtrack._piece_write(), v_common || jsonb_build_object(
            'known', format('%L', v_names), 'touch', v_touch,
            'first_write', CASE WHEN v_citus THEN '' ELSE pgtrack._fill(pgtrack._piece_first_write(), jsonb_build_object(
                'fenced_insert', pgtrack._fill(pgtrack._piece_fenced_insert(), v_common || jsonb_build_object(
                    'run', 'p_run_id', 'attempt', 'p_attempt', 'experiment', 'p_experiment_id', 'step', 'p_step',
                    'progress', 'p_progress', 'guard', ''))))
            END)));

    PERFORM pgtrack._create_generated(
        'pgtrack._metrics_write_batch(p_run_id bigint, p_rows jsonb, p_set_updated boolean,
                                      p_attempt integer, p_experiment_id bigint, p_merge boolean)',
        'RETURNS integer LANGUAGE plpgsql',
        pgtrack._fill(pgtrack._piece_write_batch(), v_common || jsonb_build_object(
            'known', format('%L', ARRAY['step', 'progress'] || v_names), 'touch', v_touch,
            'range', CASE WHEN v_citus THEN 'false AND' ELSE '' END)));

    PERFORM pgtrack._create_generated(
        'pgtrack._metrics_copy_begin(p_run_id bigint, p_first_step bigint, p_first_progress double precision,
                                     p_last_step bigint, p_last_progress double precision,
                                     p_attempt integer, p_experiment_id bigint)',
        'RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp',
        pgtrack._fill(pgtrack._piece_copy_begin(), jsonb_build_object(
            'touch', pgtrack._fill(pgtrack._piece_touch(), '{"shard": "", "resolve": ""}'),
            'distributed', CASE WHEN v_citus THEN E'    RETURN NULL;  -- a distributed database: the upsert\n' ELSE '' END)));
    IF v_new THEN  -- new functions are executable by PUBLIC by default: not these
        REVOKE ALL ON FUNCTION pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint),
                               pgtrack._metrics_write_batch(bigint, jsonb, boolean, integer, bigint, boolean),
                               pgtrack._metrics_copy_begin(bigint, bigint, double precision, bigint, double precision, integer, bigint)
          FROM PUBLIC;
        PERFORM pgtrack._grant_writers();  -- the roles' EXECUTE on the new functions
    END IF;
    IF v_propagate IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_propagate, true);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._metrics_statement(p_names text[])
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The statement a client sends for one unbuffered step whose metrics p_names are all double
   precision columns: _piece_fenced_insert, the first write of _metrics_write, so the fence is written
   once. Parameters: $1 run_id (int8), $2 attempt (int4; NULL: any), $3 experiment_id (int8; NULL:
   any), $4 step (int8), $5 progress (float8), then one float8 per name in p_names' order (NULL keeps
   a stored value). It writes only while every named column is still double precision (a condition
   on the table's row type, planned again with it), so a client's cached copy outlives a retyped
   column: it writes no row (the run's time_updated is touched), and when no run matches nothing at
   all; the client then calls
   run_add_metrics, whose conversions or error apply. NULL when a name is not a double precision
   metric column, or on a distributed database (Citus): the client calls run_add_metrics. */
BEGIN
    IF pgtrack._is_distributed() OR p_names IS NULL OR EXISTS (
           SELECT FROM unnest(p_names) n
            WHERE n IS NULL OR n = ANY (pgtrack._builtin_columns('metrics'))
               OR pgtrack._column_type('metrics', n) IS DISTINCT FROM 'double precision'::regtype)
       OR cardinality(p_names) <> (SELECT count(DISTINCT n) FROM unnest(p_names) n) THEN
        RETURN NULL;
    END IF;
    RETURN pgtrack._fill(pgtrack._piece_fenced_insert(), (
        SELECT jsonb_build_object(
                   'run', '$1::pg_catalog.int8', 'attempt', '$2::pg_catalog.int4', 'experiment', '$3::pg_catalog.int8',
                   'step', '$4::pg_catalog.int8', 'progress', '$5::pg_catalog.float8',
                   'columns', pgtrack._column_list(p_names),
                   'values', coalesce(string_agg(format(', $%s::pg_catalog.float8', o + 5), '' ORDER BY o), ''),
                   'guard', coalesce(' WHERE ' || string_agg(format('pg_catalog.pg_typeof((NULL::pgtrack.metrics).%I) '
                                                                    'OPERATOR(pg_catalog.=) ''pg_catalog.float8''::pg_catalog.regtype', n),
                                                             ' AND ' ORDER BY o), ''),
                   'conflict', pgtrack._merge_action(p_names))
          FROM unnest(p_names) WITH ORDINALITY AS u(n, o)));
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._unknown_metrics(p_metrics jsonb, p_known text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 listing the metric names that have no column, and how to add them; a name that can never be
   one (run_id, xmin) says so, with a name that can. */
DECLARE
    v_unknown text[] := ARRAY(SELECT k FROM jsonb_object_keys(p_metrics) k WHERE k <> ALL (p_known) ORDER BY k);
    v_reserved text := (SELECT u FROM unnest(v_unknown) u
                         WHERE u = ANY (pgtrack._builtin_columns('metrics') || pgtrack._system_columns()) LIMIT 1);
BEGIN
    IF v_reserved IS NOT NULL THEN
        PERFORM pgtrack._reserved_metric(v_reserved, pgtrack._builtin_columns('metrics'));
    END IF;
    PERFORM pgtrack._raise('PT003',
        format('unknown metric%s %s%s', CASE WHEN cardinality(v_unknown) > 1 THEN 's' ELSE '' END,
               array_to_string(ARRAY(SELECT quote_ident(u) FROM unnest(v_unknown[1:20]) u), ', '),
               CASE WHEN cardinality(v_unknown) > 20 THEN format(' and %s more', cardinality(v_unknown) - 20) ELSE '' END),
        format('known metrics: %s; add one with SELECT pgtrack.add_metric(%L)',
               coalesce(nullif(array_to_string(p_known[1:50], ', '), ''), '(none)')
               || CASE WHEN cardinality(p_known) > 50 THEN ', ...' ELSE '' END, v_unknown[1]));
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._bad_metric_rows(p_rows jsonb, p_known text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 for a batch: a row that is not an object, or the union of unknown metric names. */
DECLARE
    v_bad jsonb;
BEGIN
    SELECT r.v INTO v_bad FROM jsonb_array_elements(p_rows) r(v) WHERE jsonb_typeof(r.v) <> 'object' LIMIT 1;
    IF FOUND THEN
        PERFORM pgtrack._raise('PT003', format('every row must be a JSON object, got %s', left(v_bad::text, 200)),
            'pass rows like ''[{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]''::jsonb');
    END IF;
    PERFORM pgtrack._unknown_metrics(
        (SELECT jsonb_object_agg(k, true) FROM jsonb_array_elements(p_rows) r(v), jsonb_object_keys(r.v) k),
        p_known);
END
$$;
