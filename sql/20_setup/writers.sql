-- The metric writers: plain (non-member) functions generated from the current metric columns, so
-- each call runs a statement planned once instead of building dynamic SQL per call.

CREATE OR REPLACE FUNCTION pgtrack._metric_value_expr(p_source text, p_column name, p_type oid)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* SQL expression reading metric p_column from the jsonb variable p_source, cast to the column's
       type. jsonb/json columns take the JSON value itself (a JSON null is "not given", like an absent
       key, so it never overwrites a stored value); others go through its text form, so
       "NaN"/"Infinity"/"-Infinity" strings work for float columns. The expression qualifies its
       operator: it runs in the generated writers, which do not pin search_path (metrics.sql). */
    SELECT CASE
        WHEN p_type = 'jsonb'::regtype THEN format('pgtrack._json_value(%s, %L)', p_source, p_column)
        WHEN p_type = 'json'::regtype  THEN format('pgtrack._json_value(%s, %L)::pg_catalog.json', p_source, p_column)
        ELSE format('(%s OPERATOR(pg_catalog.->>) %L)::%s', p_source, p_column, pgtrack._qualified_type(p_type))
    END
$$;

CREATE OR REPLACE FUNCTION pgtrack._qualified_type(p_type oid)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* schema.type of a metric column's type, for casts in generated code that does not pin
       search_path: a type named like a built-in in a caller's schema is never picked up. */
    SELECT format('%I.%I', n.nspname, t.typname)
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = p_type
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

CREATE OR REPLACE FUNCTION pgtrack._regenerate_writers()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* (Re)create pgtrack._metrics_write and pgtrack._metrics_write_batch for the metric columns that
   exist now. Called by setup, add_metric, drop_metric, rename_metric and migrate. The generated
   functions are not extension members (pg_dump saves them, and setup() can always rebuild them).
   Merge rule: a key that is absent or JSON null leaves the stored value alone, so several calls for
   one (run_id, step, progress) merge their columns. */
DECLARE
    v_names   text[];
    v_single  text;  -- VALUES list for one row
    v_batch   text;  -- per-row extraction in the batch SELECT
    v_merge   text;  -- aggregate that keeps the last non-null value of a column within a batch
    v_update  text;  -- ON CONFLICT ... SET list
    v_conflict text;
    v_fast    text;  -- column list read from jsonb_to_recordset in the batch fast path
    v_coldefs text;  -- its column definitions
    v_propagate text;  -- Citus: citus.enable_ddl_propagation to restore
    -- Shared by both writers: touch (or just find) the run, PT002 if it does not exist, PT004 if
    -- p_attempt is given and is not the run's current attempt. The row lock (UPDATE, or FOR SHARE)
    -- is held to commit, so a concurrent claim (which bumps attempt) waits for this write instead
    -- of interleaving with it: a fenced-off worker can never write into the new attempt.
    -- At most one touch per run and transaction: every UPDATE of the same row inside one transaction
    -- adds a row version that later ones must step over, so touching on every call made the cost per
    -- call grow with the number of calls (0.1.0: 409 us at 500 calls, 2,673 us at 4,000). The run
    -- touched last is remembered in a transaction-local setting (reverted with the transaction or
    -- savepoint); once touched, this transaction holds the run's row lock until it ends, so the
    -- attempt checked then cannot change, and a second touch would not be visible to anyone earlier.
    -- p_experiment_id (optional: the run's experiment) is checked against the run (PT003 if it is
    -- another's; the write is then rolled back with the call). On Citus it is also part of each WHERE,
    -- the equality on the distribution column that keeps the statements on one shard (looked up first
    -- when not given); on one server it is not (see _is_distributed: the planner keeps to the primary
    -- key). The time is a value, not a call, in the UPDATE: Citus refuses volatile calls there.
    -- %1$s: the Citus lookup, %2$s: the Citus condition (both empty on one server).
    c_touch CONSTANT text := $touch$
%1$s    IF p_set_updated AND NOT coalesce(pg_catalog.current_setting('pgtrack.touched_run', true) OPERATOR(pg_catalog.=) p_run_id::pg_catalog.text, false) THEN
        v_now := pg_catalog.clock_timestamp();
        UPDATE pgtrack.runs r SET time_updated = v_now
         WHERE r.id OPERATOR(pg_catalog.=) p_run_id%2$s AND (p_attempt IS NULL OR r.attempt OPERATOR(pg_catalog.=) p_attempt)
        RETURNING r.experiment_id INTO v_experiment;
        IF v_experiment IS NULL OR v_experiment OPERATOR(pg_catalog.<>) coalesce(p_experiment_id, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed(p_run_id, p_attempt, p_experiment_id);
        END IF;
        v_setting := pg_catalog.set_config('pgtrack.touched_run', p_run_id::pg_catalog.text, true);
        v_setting := pg_catalog.set_config('pgtrack.touched_experiment', v_experiment::pg_catalog.text, true);
    ELSIF NOT p_set_updated OR p_attempt IS NOT NULL THEN  -- already touched: still check a given attempt
        SELECT r.experiment_id INTO v_experiment FROM pgtrack.runs r
         WHERE r.id OPERATOR(pg_catalog.=) p_run_id%2$s AND (p_attempt IS NULL OR r.attempt OPERATOR(pg_catalog.=) p_attempt)
           FOR SHARE;
        IF v_experiment IS NULL OR v_experiment OPERATOR(pg_catalog.<>) coalesce(p_experiment_id, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed(p_run_id, p_attempt, p_experiment_id);
        END IF;
    ELSE  -- this transaction touched the run (and holds its row lock): its experiment is remembered
        v_experiment := pg_catalog.current_setting('pgtrack.touched_experiment', true)::pg_catalog.int8;
        IF v_experiment IS NULL OR v_experiment OPERATOR(pg_catalog.<>) coalesce(p_experiment_id, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed(p_run_id, NULL, p_experiment_id);
            v_experiment := (SELECT r.experiment_id FROM pgtrack.runs r WHERE r.id OPERATOR(pg_catalog.=) p_run_id%2$s);
        END IF;
    END IF;
$touch$;
    -- Citus: the statements above need the experiment; a call without it looks it up (every shard).
    c_resolve CONSTANT text := $resolve$
    IF p_experiment_id IS NULL THEN
        p_experiment_id := (SELECT r.experiment_id FROM pgtrack.runs r WHERE r.id OPERATOR(pg_catalog.=) p_run_id);
    END IF;
$resolve$;
    -- One server, the first write of a run in a transaction (every call in autocommit): the touch and
    -- the row in one statement, since each PL/pgSQL statement has a cost of its own (docs/design.md,
    -- "Where the time goes"); the checks are those of c_touch, which handles every other
    -- case (and this one, should the run have changed under the statement). %1$s: the column list,
    -- %2$s: the values, %3$s: the conflict action.
    c_first_write CONSTANT text := $first$
    IF p_set_updated AND NOT coalesce(pg_catalog.current_setting('pgtrack.touched_run', true) OPERATOR(pg_catalog.=) p_run_id::pg_catalog.text, false) THEN
        v_now := pg_catalog.clock_timestamp();
        WITH t AS (UPDATE pgtrack.runs r SET time_updated = v_now
                    WHERE r.id OPERATOR(pg_catalog.=) p_run_id AND (p_attempt IS NULL OR r.attempt OPERATOR(pg_catalog.=) p_attempt)
                      AND (p_experiment_id IS NULL OR r.experiment_id OPERATOR(pg_catalog.=) p_experiment_id)
                   RETURNING r.experiment_id),
             w AS (INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id%1$s)
                   SELECT p_run_id, p_step, p_progress, t.experiment_id%2$s FROM t
                   ON CONFLICT (run_id, step, progress) %3$s)
        SELECT t.experiment_id INTO v_experiment FROM t;
        IF v_experiment IS NOT NULL THEN
            v_setting := pg_catalog.set_config('pgtrack.touched_run', p_run_id::pg_catalog.text, true);
            v_setting := pg_catalog.set_config('pgtrack.touched_experiment', v_experiment::pg_catalog.text, true);
            RETURN;
        END IF;
    END IF;
$first$;
    v_touch text;
    v_key   text;
BEGIN
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}'),
           string_agg(', ' || pgtrack._metric_value_expr('p_metrics', a.attname, a.atttypid), '' ORDER BY a.attnum),
           string_agg(format(', %s AS %I', pgtrack._metric_value_expr('r.v', a.attname, a.atttypid), a.attname), '' ORDER BY a.attnum),
           string_agg(format(', (pg_catalog.array_agg(s.%1$I ORDER BY s.run_id DESC) FILTER (WHERE s.%1$I IS NOT NULL))[1]', a.attname), '' ORDER BY a.attnum),
           string_agg(format('%1$I = coalesce(EXCLUDED.%1$I, m.%1$I)', a.attname), ', ' ORDER BY a.attnum),
           string_agg(format(', r.%I', a.attname), '' ORDER BY a.attnum),
           string_agg(format(', %I %s', a.attname, pgtrack._qualified_type(a.atttypid)), '' ORDER BY a.attnum)
      INTO v_names, v_single, v_batch, v_merge, v_update, v_fast, v_coldefs
      FROM pg_attribute a
     WHERE a.attrelid = 'pgtrack.metrics'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> ALL (pgtrack._builtin_columns('metrics'));

    v_conflict := CASE WHEN v_update IS NULL THEN 'DO NOTHING' ELSE 'DO UPDATE SET ' || v_update END;
    v_touch := CASE WHEN pgtrack._is_distributed()
                    THEN format(c_touch, c_resolve, ' AND r.experiment_id OPERATOR(pg_catalog.=) p_experiment_id')
                    ELSE format(c_touch, '', '') END;
    -- The conflict target: the primary key, which on Citus also holds the distribution column.
    v_key := CASE WHEN pgtrack._is_distributed() THEN 'run_id, step, progress, experiment_id' ELSE 'run_id, step, progress' END;
    -- On Citus the writers run on the coordinator only (they route their statements to the shards), so
    -- their definition is not propagated to the workers: propagating a function after multi-shard work
    -- in the same transaction is refused by Citus.
    IF pgtrack._is_distributed() THEN
        v_propagate := pg_catalog.current_setting('citus.enable_ddl_propagation');
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;

    PERFORM pgtrack._create_generated(
        'pgtrack._metrics_write(p_run_id bigint, p_step bigint, p_progress double precision, p_metrics jsonb,
                                p_set_updated boolean, p_attempt integer, p_experiment_id bigint)',
        'RETURNS void LANGUAGE plpgsql', format($fn$
/* GENERATED by pgtrack._regenerate_writers() for %1$s metric columns; do not edit. */
#variable_conflict use_variable
DECLARE
    v_now        pg_catalog.timestamptz;
    v_setting    pg_catalog.text;  -- set_config's result (an assignment is a plain expression; PERFORM runs a query)
    v_experiment pg_catalog.int8;  -- the run's experiment, written with the metric row
BEGIN
    IF (p_metrics OPERATOR(pg_catalog.-) %2$L::pg_catalog.text[]) OPERATOR(pg_catalog.<>) '{}'::pg_catalog.jsonb THEN
        PERFORM pgtrack._unknown_metrics(p_metrics, %2$L::pg_catalog.text[]);
    END IF;
%8$s%6$s    INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id%3$s)
    VALUES (p_run_id, p_step, p_progress, v_experiment%4$s)
    ON CONFLICT (%7$s) %5$s;
END
$fn$, cardinality(v_names), v_names,
      (SELECT coalesce(string_agg(format(', %I', n), ''), '') FROM unnest(v_names) n),
      coalesce(v_single, ''), v_conflict, v_touch, v_key,
      CASE WHEN pgtrack._is_distributed() THEN ''
           ELSE format(c_first_write, (SELECT coalesce(string_agg(format(', %I', n), ''), '') FROM unnest(v_names) n),
                       coalesce(v_single, ''), v_conflict) END));

    PERFORM pgtrack._create_generated(
        'pgtrack._metrics_write_batch(p_run_id bigint, p_rows jsonb, p_set_updated boolean,
                                      p_attempt integer, p_experiment_id bigint, p_merge boolean)',
        'RETURNS integer LANGUAGE plpgsql', format($fn$
/* GENERATED by pgtrack._regenerate_writers() for %1$s metric columns; do not edit.
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
                              OR (r.v OPERATOR(pg_catalog.-) %2$L::pg_catalog.text[]) OPERATOR(pg_catalog.<>) '{}'::pg_catalog.jsonb)
      INTO v_bad
      FROM pg_catalog.jsonb_array_elements(p_rows) r(v);
    IF v_bad THEN
        PERFORM pgtrack._bad_metric_rows(p_rows, %2$L::pg_catalog.text[]);
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
%7$s    IF p_merge THEN
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id%3$s)
        SELECT p_run_id, s.step, s.progress, v_experiment%4$s
          FROM (SELECT r.o AS run_id,  -- the row's position, under a name no metric column can have
                       coalesce((r.v OPERATOR(pg_catalog.->>) 'step')::bigint, 0) AS step,
                       coalesce((r.v OPERATOR(pg_catalog.->>) 'progress')::double precision, 0) AS progress%5$s
                  FROM pg_catalog.jsonb_array_elements(p_rows) WITH ORDINALITY AS r(v, o)) s
         GROUP BY s.step, s.progress
        ON CONFLICT (%10$s) %6$s;
    ELSIF %11$s NOT EXISTS (SELECT FROM pgtrack.metrics m
                         WHERE m.run_id OPERATOR(pg_catalog.=) p_run_id
                           AND m.step OPERATOR(pg_catalog.>=) v_first AND m.step OPERATOR(pg_catalog.<=) v_last) THEN
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id%3$s)
        SELECT p_run_id, coalesce(r.step, 0), coalesce(r.progress, 0), v_experiment%8$s
          FROM pg_catalog.jsonb_to_recordset(p_rows) AS r(step bigint, progress double precision%9$s);
    ELSE
        INSERT INTO pgtrack.metrics AS m (run_id, step, progress, experiment_id%3$s)
        SELECT p_run_id, coalesce(r.step, 0), coalesce(r.progress, 0), v_experiment%8$s
          FROM pg_catalog.jsonb_to_recordset(p_rows) AS r(step bigint, progress double precision%9$s)
        ON CONFLICT (%10$s) %6$s;
    END IF;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$fn$, cardinality(v_names), ARRAY['step', 'progress'] || v_names,
      (SELECT coalesce(string_agg(format(', %I', n), ''), '') FROM unnest(v_names) n),
      coalesce(v_merge, ''), coalesce(v_batch, ''), v_conflict, v_touch,
      coalesce(v_fast, ''), coalesce(v_coldefs, ''), v_key,
      -- Citus: always the upsert (the range check would visit every shard without the experiment)
      CASE WHEN pgtrack._is_distributed() THEN 'false AND' ELSE '' END));
    -- The COPY protocol of the Python client's buffered writes (python/pgtrack/copy_rows.py): the same
    -- touch, then the run's experiment if no metrics row of the run lies in the batch's (step, progress)
    -- range, so the caller may COPY the rows in (plain inserts: no conflict to resolve); NULL when some
    -- does (the caller writes through _metrics_write_batch, whose upsert merges). The row lock of the
    -- touch is held to commit, so no pgtrack writer can add a row to the run before the COPY; a raw
    -- INSERT can, and then the COPY fails on the primary key and the caller falls back to the upsert.
    -- Citus: always NULL (the COPY path is not used on a distributed database).
    PERFORM pgtrack._create_generated(
        'pgtrack._metrics_copy_begin(p_run_id bigint, p_first_step bigint, p_first_progress double precision,
                                     p_last_step bigint, p_last_progress double precision,
                                     p_attempt integer, p_experiment_id bigint)',
        'RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp', format($fn$
/* GENERATED by pgtrack._regenerate_writers(); do not edit. */
#variable_conflict use_variable
DECLARE
    p_set_updated CONSTANT boolean := true;
    v_now        timestamptz;
    v_setting    text;
    v_experiment int8;
BEGIN
%1$s%2$s    IF EXISTS (SELECT FROM pgtrack.metrics m
                WHERE m.run_id = p_run_id
                  AND (m.step, m.progress) >= (p_first_step, p_first_progress)
                  AND (m.step, m.progress) <= (p_last_step, p_last_progress)) THEN
        RETURN NULL;
    END IF;
    RETURN v_experiment;
END
$fn$, CASE WHEN pgtrack._is_distributed() THEN E'    RETURN NULL;  -- a distributed database: the upsert\n' ELSE '' END,
      format(c_touch, '', '')));
    -- New functions are executable by PUBLIC by default: not these.
    REVOKE ALL ON FUNCTION pgtrack._metrics_write(bigint, bigint, double precision, jsonb, boolean, integer, bigint),
                           pgtrack._metrics_write_batch(bigint, jsonb, boolean, integer, bigint, boolean),
                           pgtrack._metrics_copy_begin(bigint, bigint, double precision, bigint, double precision, integer, bigint)
      FROM PUBLIC;
    IF v_propagate IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_propagate, true);
    END IF;
    PERFORM pgtrack._grant_writers();  -- the roles' EXECUTE on the new functions: nothing else changed
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
