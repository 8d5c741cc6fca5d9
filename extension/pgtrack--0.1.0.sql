-- pgtrack 0.1.0, RELEASED: frozen copy of the install script as generated from sql/ at release. Never edit.
\echo Use "CREATE EXTENSION pgtrack" to load this file. \quit

-- ---- sql/00_types.sql
-- Types owned by the extension: the Slurm-style run status and the result of register()/claim_next().

CREATE TYPE pgtrack.runstatus AS ENUM (
    'BOOT_FAIL', 'CANCELLED', 'CONFIGURING', 'COMPLETED', 'COMPLETING', 'DEADLINE', 'FAILED',
    'NODE_FAIL', 'OUT_OF_MEMORY', 'PENDING', 'PREEMPTED', 'RESV_DEL_HOLD', 'REQUEUE_FED',
    'REQUEUE_HOLD', 'REQUEUED', 'RESIZING', 'REVOKED', 'RUNNING', 'SIGNALING', 'SPECIAL_EXIT',
    'STAGE_OUT', 'STOPPED', 'SUSPENDED', 'TIMEOUT'
);
COMMENT ON TYPE pgtrack.runstatus IS
    'Run status: the 24 Slurm job states, in the order of the SQLTrack documentation.';

CREATE TYPE pgtrack.registration AS (
    run_id       bigint,
    run_uuid     uuid,
    status       pgtrack.runstatus,
    attempt      integer,
    was_inserted boolean,
    was_updated  boolean,
    was_skipped  boolean
);
COMMENT ON TYPE pgtrack.registration IS
    'Result of pgtrack.register() and pgtrack.claim_next(). Field order is part of the API.';

-- ---- sql/10_internal/edits.sql
-- Generic row edits shared by the experiment_* and run_* functions: JSONB fields (tags, args, env)
-- and relationships. Table and column names come from pgtrack's own code, still quoted with %I.

CREATE FUNCTION pgtrack._require_updated(p_rows bigint, p_table text, p_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
/* After an UPDATE of pgtrack.<p_table> by id: PT002 if it matched no row. */
BEGIN
    IF p_rows = 0 THEN
        PERFORM pgtrack._not_found(CASE p_table WHEN 'runs' THEN 'run' ELSE 'experiment' END, p_id);
    END IF;
END
$$;

CREATE FUNCTION pgtrack._edit_jsonb(p_table text, p_id bigint, p_column text, p_mode text,
                                    p_value jsonb DEFAULT NULL, p_keys text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
/* p_mode 'add' merges p_value into the field (keys of p_value win), 'remove' deletes the keys
   p_keys. PT002 if the row does not exist. (Replacing a field is _set_field.) */
DECLARE
    v_rows integer;
BEGIN
    EXECUTE format(CASE p_mode
        WHEN 'add'    THEN 'UPDATE pgtrack.%1$I SET %2$I = coalesce(%2$I, ''{}'') || $1 WHERE id = $3'
        WHEN 'remove' THEN 'UPDATE pgtrack.%1$I SET %2$I = %2$I - $2 WHERE id = $3'
    END, p_table, p_column) USING p_value, p_keys, p_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM pgtrack._require_updated(v_rows, p_table, p_id);
END
$$;

CREATE FUNCTION pgtrack._validate_keys(p_keys text[], p_what text)
RETURNS text[]
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Keys to remove: each non-blank. */
DECLARE
    v_key text;
BEGIN
    FOREACH v_key IN ARRAY coalesce(p_keys, '{}') LOOP
        PERFORM pgtrack._validate_label(v_key, p_what);
    END LOOP;
    RETURN p_keys;
END
$$;

CREATE FUNCTION pgtrack._edit_relationship(p_table text, p_from_id bigint, p_kind text, p_to_id bigint, p_add boolean)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Add (idempotent) or remove the relationship (from_id, kind, to_id) between two experiments
   (p_table 'experiments') or two runs ('runs'). Both ids must exist (PT002). */
DECLARE
    v_what text := CASE p_table WHEN 'runs' THEN 'run' ELSE 'experiment' END;
    v_id   bigint;
    v_found boolean;
BEGIN
    PERFORM pgtrack._validate_label(p_kind, 'relationship kind');
    FOREACH v_id IN ARRAY ARRAY[p_from_id, p_to_id] LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM pgtrack.%I WHERE id = $1)', p_table) USING v_id INTO v_found;
        IF NOT v_found THEN
            PERFORM pgtrack._not_found(v_what, v_id);
        END IF;
    END LOOP;
    IF p_add THEN
        EXECUTE format('INSERT INTO pgtrack.%I (from_id, kind, to_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
                       v_what || '_relationships') USING p_from_id, p_kind, p_to_id;
    ELSE
        EXECUTE format('DELETE FROM pgtrack.%I WHERE from_id = $1 AND kind = $2 AND to_id = $3',
                       v_what || '_relationships') USING p_from_id, p_kind, p_to_id;
    END IF;
END
$$;

CREATE FUNCTION pgtrack._set_field(p_table text, p_id bigint, p_column text, p_value anyelement)
RETURNS void
LANGUAGE plpgsql
AS $$
/* UPDATE pgtrack.<p_table> SET <p_column> = p_value WHERE id = p_id; PT002 if the row does not exist. */
DECLARE
    v_rows integer;
BEGIN
    EXECUTE format('UPDATE pgtrack.%I SET %I = $1 WHERE id = $2', p_table, p_column) USING p_value, p_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    PERFORM pgtrack._require_updated(v_rows, p_table, p_id);
END
$$;

-- ---- sql/10_internal/errors.sql
-- Raising pgtrack errors: one place that knows SQLSTATEs PT001..PT005 and always adds a hint.
--
-- Convention for every internal helper (names starting with _): no SET search_path. They are
-- SECURITY INVOKER, qualify every pgtrack name, and run under the search_path of the public function
-- that calls them (pinned to pg_catalog, pg_temp where that matters). A SET clause costs a GUC
-- save/restore per call, and register() makes about a dozen helper calls (bench/registry_bench.py).
-- SECURITY DEFINER functions always pin search_path.

CREATE FUNCTION pgtrack._raise(p_code text, p_message text, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Raise an error with a pgtrack SQLSTATE (PT001 duplicate run, PT002 not found, PT003 validation,
   PT004 lease lost, PT005 schema change refused), a message naming the offending value and a hint
   saying what to do. Usable from any function with PERFORM. */
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message,
                          HINT = coalesce(p_hint, 'see the pgtrack SQL API reference (docs/sql-api.md)');
END
$$;

CREATE FUNCTION pgtrack._not_found(p_what text, p_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
/* PT002 for a missing experiment or run id. */
BEGIN
    PERFORM pgtrack._raise('PT002', format('%s %s does not exist', p_what, coalesce(p_id::text, 'NULL')),
        CASE p_what
            WHEN 'experiment' THEN 'create it with SELECT pgtrack.experiment(''name'') and use the id it returns'
            ELSE 'create it with SELECT pgtrack.create_run(experiment_id) or pgtrack.register(...)'
        END);
END
$$;

CREATE FUNCTION pgtrack._require_experiment(p_experiment_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
/* PT002 unless the experiment exists. */
BEGIN
    PERFORM FROM pgtrack.experiments WHERE id = p_experiment_id;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('experiment', p_experiment_id);
    END IF;
END
$$;

CREATE FUNCTION pgtrack._require_object(p_value jsonb, p_what text)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Return p_value if it is NULL or a JSON object, else raise PT003. */
BEGIN
    IF p_value IS NOT NULL AND jsonb_typeof(p_value) <> 'object' THEN
        PERFORM pgtrack._raise('PT003', format('%s must be a JSON object, got %s', p_what, left(p_value::text, 200)),
            format('pass %s as a JSON object such as ''{"lr": 0.1}''::jsonb', p_what));
    END IF;
    RETURN p_value;
END
$$;

-- ---- sql/10_internal/locks.sql
-- Serialising schema changes and running DDL with a clear error when a table is busy.

CREATE FUNCTION pgtrack._lock_schema()
RETURNS void
LANGUAGE plpgsql
AS $$
/* Transaction-scoped advisory lock taken by every function that alters the data tables (setup,
   migrate, add_metric, drop_metric, rename_metric, add_run_column). Released at commit, so a waiter
   reads the committed catalog. The first key is pgtrack's namespace, the second the lock's purpose. */
BEGIN
    PERFORM pgtrack._execute_guarded('SELECT pg_catalog.pg_advisory_xact_lock(1886352498, 1)');
END
$$;

CREATE FUNCTION pgtrack._execute_guarded(p_sql text)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Run one statement (DDL built with format('%I'), or a lock request). A lock_timeout (set by the calling function) turns
   waiting behind a busy logger into a clear PT005 instead of a hang. */
BEGIN
    EXECUTE p_sql;
EXCEPTION WHEN lock_not_available THEN
    PERFORM pgtrack._raise('PT005', format('schema change timed out waiting for a lock: %s', p_sql),
        'another transaction is using the table (a long-running logger or an open transaction); '
        'retry when it has committed, or raise lock_timeout in this session');
END
$$;

CREATE FUNCTION pgtrack._lock_registry(p_experiment_id bigint, p_exclusive boolean)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Per-experiment registry lock: shared for every identity write (normalize_identity), exclusive for
   changes to the experiment's identifying fields, so a register() never mixes old and new fields. */
DECLARE
    v_key bigint := hashtextextended('pgtrack.registry:' || p_experiment_id, 0);
BEGIN
    IF p_exclusive THEN
        PERFORM pgtrack._execute_guarded(format('SELECT pg_catalog.pg_advisory_xact_lock(%s)', v_key));
    ELSE
        PERFORM pg_advisory_xact_lock_shared(v_key);
    END IF;
END
$$;

-- ---- sql/10_internal/names.sql
-- Validating identifiers and labels that callers pass in (metric names, run columns, field names, tags).

CREATE FUNCTION pgtrack._validate_name(p_name text, p_what text, p_reserved text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* The one name rule (SPEC 4.5): lowercase letters, digits and _, starting with a letter, at most 63
   bytes, not one of p_reserved. Returns the name; raises PT003 naming the bad value otherwise.
   Names that pass can still only reach SQL through format('%I'). */
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z][a-z0-9_]*$' OR octet_length(p_name) > 63 THEN
        PERFORM pgtrack._raise('PT003', format('invalid %s name %s', p_what, coalesce(quote_literal(p_name), 'NULL')),
            'use lowercase letters, digits and _, starting with a letter, at most 63 bytes (e.g. val_loss)');
    END IF;
    IF p_name = ANY (p_reserved) THEN
        PERFORM pgtrack._raise('PT003', format('%s name %L is reserved', p_what, p_name),
            format('choose another name; reserved: %s', array_to_string(p_reserved, ', ')));
    END IF;
    RETURN p_name;
END
$$;

CREATE FUNCTION pgtrack._validate_label(p_value text, p_what text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Free-text labels (experiment names, tags, relationship kinds, JSON keys) are stored as data, so
   any text is allowed except NULL and blank. */
BEGIN
    IF p_value IS NULL OR btrim(p_value) = '' THEN
        PERFORM pgtrack._raise('PT003', format('%s must not be %s', p_what, coalesce(quote_literal(p_value), 'NULL')),
            format('pass a non-empty %s', p_what));
    END IF;
    RETURN p_value;
END
$$;

CREATE FUNCTION pgtrack._tags_object(p_tags text[])
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Tags are stored as a JSON object {"tag": true, ...}. NULL stays NULL; every tag must be non-blank. */
DECLARE
    v_tag text;
BEGIN
    IF p_tags IS NULL THEN
        RETURN NULL;
    END IF;
    FOREACH v_tag IN ARRAY p_tags LOOP
        PERFORM pgtrack._validate_label(v_tag, 'tag');
    END LOOP;
    RETURN coalesce((SELECT jsonb_object_agg(t, true) FROM unnest(p_tags) AS t), '{}'::jsonb);
END
$$;

-- ---- sql/20_setup/migrate.sql
-- migrate(): user SQL migration scripts, each applied once and recorded in the same transaction.

CREATE FUNCTION pgtrack.migrate(name text, script text)
RETURNS boolean
LANGUAGE plpgsql
SET lock_timeout = '10s'
AS $$
/* Runs with the caller's privileges (SECURITY INVOKER): a migration can do exactly what its caller
   may do. The script and its record in applied_migrations commit or roll back together, so a failing
   script leaves no trace and can be fixed and retried. Scripts must not contain BEGIN/COMMIT.
   No SET search_path here on purpose: the script runs with the session's search_path, and this
   body qualifies every name. */
#variable_conflict use_column
DECLARE
    p_name     ALIAS FOR $1;
    p_script   ALIAS FOR $2;
    v_checksum text;
    v_applied  text;
BEGIN
    PERFORM pgtrack._validate_label(p_name, 'migration name');
    PERFORM pgtrack._validate_label(p_script, 'migration script');
    v_checksum := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_script, 'UTF8')), 'hex');
    PERFORM pgtrack._lock_schema();

    SELECT checksum INTO v_applied FROM pgtrack.applied_migrations WHERE name = p_name;
    IF FOUND THEN
        IF v_applied = v_checksum THEN
            RETURN false;
        END IF;
        PERFORM pgtrack._raise('PT005',
            format('migration %L was applied before with different text (checksum %s, now %s)',
                   p_name, left(v_applied, 12), left(v_checksum, 12)),
            'applied migrations are immutable: put the change in a new migration with a new name');
    END IF;

    BEGIN
        EXECUTE p_script;
    EXCEPTION WHEN invalid_transaction_termination OR feature_not_supported THEN
        PERFORM pgtrack._raise('PT003', format('migration %L failed: %s', p_name, SQLERRM),
            'a migration runs inside one transaction with its record; remove BEGIN/COMMIT/ROLLBACK from the script');
    END;

    INSERT INTO pgtrack.applied_migrations (name, checksum, applied_at)
    VALUES (p_name, v_checksum, clock_timestamp());
    PERFORM pgtrack._regenerate_writers();  -- the script may have added metric columns
    RETURN true;
END
$$;
COMMENT ON FUNCTION pgtrack.migrate(text, text) IS
$$Run a user SQL migration script once, recorded by name (with a SHA-256 checksum) in the same transaction as the script. Returns true if it ran now, false if it was already applied with the same text; PT005 if applied before with different text. Runs with the caller's privileges; scripts must not contain BEGIN/COMMIT.$$;

-- ---- sql/20_setup/setup.sql
-- setup(): create or upgrade the data tables. They are ordinary tables, NOT extension members, so
-- pg_dump saves them whole, including metric columns added at run time (see README, "install model").

CREATE FUNCTION pgtrack.setup()
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
SET client_min_messages = warning
AS $$
/* Idempotent: every statement is CREATE ... IF NOT EXISTS (or an ALTER guarded by the catalog), so
   calling it again, or from an upgrade script, brings any database to the current layout. The tables
   belong to the function's owner (the role that created the extension). Returns the layout version. */
DECLARE
    c_layout CONSTANT text := '0.1.0';
BEGIN
    PERFORM pgtrack._lock_schema();

    CREATE TABLE IF NOT EXISTS pgtrack.meta (
        key   text PRIMARY KEY,
        value text NOT NULL
    );

    CREATE TABLE IF NOT EXISTS pgtrack.experiments (
        id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        time_created    timestamptz NOT NULL DEFAULT now(),
        name            text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
        comment         text,
        tags            jsonb,
        float_precision integer NOT NULL DEFAULT 12 CHECK (float_precision BETWEEN 1 AND 1000)
    );
    CREATE INDEX IF NOT EXISTS experiments_tags_idx ON pgtrack.experiments USING gin (tags);

    CREATE TABLE IF NOT EXISTS pgtrack.experiment_relationships (
        from_id bigint NOT NULL REFERENCES pgtrack.experiments (id) ON DELETE CASCADE,
        kind    text   NOT NULL CHECK (btrim(kind) <> ''),
        to_id   bigint NOT NULL REFERENCES pgtrack.experiments (id) ON DELETE CASCADE,
        PRIMARY KEY (from_id, kind, to_id)
    );
    CREATE INDEX IF NOT EXISTS experiment_relationships_to_idx ON pgtrack.experiment_relationships (to_id);

    CREATE TABLE IF NOT EXISTS pgtrack.runs (
        id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        experiment_id bigint NOT NULL REFERENCES pgtrack.experiments (id) ON DELETE CASCADE,
        uuid          uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
        status        pgtrack.runstatus NOT NULL DEFAULT 'PENDING',
        identity      jsonb CHECK (jsonb_typeof(identity) = 'object'),
        attempt       integer NOT NULL DEFAULT 0,
        time_created  timestamptz NOT NULL DEFAULT now(),
        time_started  timestamptz,
        time_updated  timestamptz,
        time_finished timestamptz,
        comment       text,
        tags          jsonb,
        args          jsonb,
        env           jsonb,
        error         text,
        worker        text,
        CONSTRAINT runs_identity_key UNIQUE (experiment_id, identity)
    );
    -- Runs by (experiment_id, status), id-ordered, for the work queue and status queries. Partial on
    -- purpose: only queries that filter on status can use it. A non-partial index would be chosen for
    -- identity lookups whenever an experiment grows faster than autovacuum analyzes it, turning each
    -- register() into a scan of the experiment. Lookups by experiment_id alone (and the FK cascade)
    -- use runs_identity_key, which leads with experiment_id.
    CREATE INDEX IF NOT EXISTS runs_experiment_status_idx ON pgtrack.runs (experiment_id, status, id)
        WHERE status <> 'COMPLETED';
    -- One GIN index per queried column: tags answer ? and @>, args answer @> (path ops, smaller).
    CREATE INDEX IF NOT EXISTS runs_tags_idx ON pgtrack.runs USING gin (tags);
    CREATE INDEX IF NOT EXISTS runs_args_idx ON pgtrack.runs USING gin (args jsonb_path_ops);

    CREATE TABLE IF NOT EXISTS pgtrack.run_relationships (
        from_id bigint NOT NULL REFERENCES pgtrack.runs (id) ON DELETE CASCADE,
        kind    text   NOT NULL CHECK (btrim(kind) <> ''),
        to_id   bigint NOT NULL REFERENCES pgtrack.runs (id) ON DELETE CASCADE,
        PRIMARY KEY (from_id, kind, to_id)
    );
    CREATE INDEX IF NOT EXISTS run_relationships_to_idx ON pgtrack.run_relationships (to_id);

    CREATE TABLE IF NOT EXISTS pgtrack.metrics (
        run_id   bigint NOT NULL REFERENCES pgtrack.runs (id) ON DELETE CASCADE,
        step     bigint NOT NULL DEFAULT 0,
        progress double precision NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, step, progress)
    );

    CREATE TABLE IF NOT EXISTS pgtrack.identifying_fields (
        experiment_id bigint NOT NULL REFERENCES pgtrack.experiments (id) ON DELETE CASCADE,
        name          text NOT NULL,
        type          text NOT NULL CHECK (type IN ('int', 'float', 'string', 'bool')),
        default_value jsonb,
        doc           text,
        time_created  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (experiment_id, name)
    );

    CREATE TABLE IF NOT EXISTS pgtrack.applied_migrations (
        name       text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    );

    -- Every write of runs.identity, raw SQL included, goes through normalize_identity().
    CREATE OR REPLACE TRIGGER runs_normalize_identity
        BEFORE INSERT OR UPDATE OF identity, experiment_id ON pgtrack.runs
        FOR EACH ROW WHEN (NEW.identity IS NOT NULL)
        EXECUTE FUNCTION pgtrack._runs_normalize_identity();

    INSERT INTO pgtrack.meta (key, value) VALUES ('layout_version', c_layout)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

    PERFORM pgtrack._regenerate_writers();
    RETURN c_layout;
END
$$;
COMMENT ON FUNCTION pgtrack.setup() IS
$$Create or upgrade the data tables (experiments, runs, metrics, relationships, identifying_fields, applied_migrations) in schema pgtrack; idempotent; returns the data layout version. The tables are ordinary tables, not extension members, so pg_dump saves them with every added metric column.$$;

-- ---- sql/20_setup/writers.sql
-- The metric writers: plain (non-member) functions generated from the current metric columns, so
-- each call runs a statement planned once instead of building dynamic SQL per call.

CREATE FUNCTION pgtrack._metric_value_expr(p_source text, p_column name, p_type oid)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    /* SQL expression reading metric p_column from the jsonb variable p_source, cast to the column's
       type. jsonb/json columns take the JSON value itself; others go through its text form, so
       "NaN"/"Infinity"/"-Infinity" strings work for float columns. */
    SELECT CASE
        WHEN p_type = 'jsonb'::regtype THEN format('(%s -> %L)', p_source, p_column)
        WHEN p_type = 'json'::regtype  THEN format('(%s -> %L)::json', p_source, p_column)
        ELSE format('(%s ->> %L)::%s', p_source, p_column, format_type(p_type, NULL))
    END
$$;

CREATE FUNCTION pgtrack._regenerate_writers()
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
    -- Shared by both writers: touch (or just find) the run, PT002 if it does not exist.
    c_touch CONSTANT text := $touch$
    IF p_set_updated THEN
        UPDATE pgtrack.runs SET time_updated = clock_timestamp() WHERE id = p_run_id;
    ELSE
        PERFORM FROM pgtrack.runs WHERE id = p_run_id;
    END IF;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('run', p_run_id);
    END IF;
$touch$;
BEGIN
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}'),
           string_agg(', ' || pgtrack._metric_value_expr('p_metrics', a.attname, a.atttypid), '' ORDER BY a.attnum),
           string_agg(format(', %s AS %I', pgtrack._metric_value_expr('r.v', a.attname, a.atttypid), a.attname), '' ORDER BY a.attnum),
           string_agg(format(', (array_agg(s.%1$I ORDER BY s.ord DESC) FILTER (WHERE s.%1$I IS NOT NULL))[1]', a.attname), '' ORDER BY a.attnum),
           string_agg(format('%1$I = coalesce(EXCLUDED.%1$I, m.%1$I)', a.attname), ', ' ORDER BY a.attnum)
      INTO v_names, v_single, v_batch, v_merge, v_update
      FROM pg_attribute a
     WHERE a.attrelid = 'pgtrack.metrics'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname NOT IN ('run_id', 'step', 'progress');

    v_conflict := CASE WHEN v_update IS NULL THEN 'DO NOTHING' ELSE 'DO UPDATE SET ' || v_update END;

    EXECUTE format($fn$
CREATE OR REPLACE FUNCTION pgtrack._metrics_write(
    p_run_id bigint, p_step bigint, p_progress double precision, p_metrics jsonb, p_set_updated boolean)
RETURNS void
LANGUAGE plpgsql
AS $body$
/* GENERATED by pgtrack._regenerate_writers() for the metric columns %1$s; do not edit. */
BEGIN
    IF p_metrics - %2$L::text[] <> '{}'::jsonb THEN
        PERFORM pgtrack._unknown_metrics(p_metrics, %2$L::text[]);
    END IF;
%6$s    INSERT INTO pgtrack.metrics AS m (run_id, step, progress%3$s)
    VALUES (p_run_id, p_step, p_progress%4$s)
    ON CONFLICT (run_id, step, progress) %5$s;
END
$body$;
$fn$, coalesce(array_to_string(v_names, ', '), '(none)'), v_names,
      (SELECT coalesce(string_agg(format(', %I', n), ''), '') FROM unnest(v_names) n),
      coalesce(v_single, ''), v_conflict, c_touch);

    EXECUTE format($fn$
CREATE OR REPLACE FUNCTION pgtrack._metrics_write_batch(p_run_id bigint, p_rows jsonb, p_set_updated boolean)
RETURNS integer
LANGUAGE plpgsql
AS $body$
/* GENERATED by pgtrack._regenerate_writers() for the metric columns %1$s; do not edit.
   Rows with the same (step, progress) inside one batch are merged, later rows winning. */
DECLARE
    v_count integer;
BEGIN
    IF EXISTS (SELECT FROM jsonb_array_elements(p_rows) r(v)
                WHERE jsonb_typeof(r.v) <> 'object' OR r.v - %2$L::text[] <> '{}'::jsonb) THEN
        PERFORM pgtrack._bad_metric_rows(p_rows, %2$L::text[]);
    END IF;
%7$s    INSERT INTO pgtrack.metrics AS m (run_id, step, progress%3$s)
    SELECT p_run_id, s.step, s.progress%4$s
      FROM (SELECT r.ord,
                   coalesce((r.v ->> 'step')::bigint, 0) AS step,
                   coalesce((r.v ->> 'progress')::double precision, 0) AS progress%5$s
              FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS r(v, ord)) s
     GROUP BY s.step, s.progress
    ON CONFLICT (run_id, step, progress) %6$s;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$body$;
$fn$, coalesce(array_to_string(v_names, ', '), '(none)'), ARRAY['step', 'progress'] || v_names,
      (SELECT coalesce(string_agg(format(', %I', n), ''), '') FROM unnest(v_names) n),
      coalesce(v_merge, ''), coalesce(v_batch, ''), v_conflict, c_touch);
END
$$;

CREATE FUNCTION pgtrack._unknown_metrics(p_metrics jsonb, p_known text[])
RETURNS void
LANGUAGE plpgsql
AS $$
/* PT003 listing the metric names that have no column, and how to add them. */
DECLARE
    v_unknown text[] := ARRAY(SELECT k FROM jsonb_object_keys(p_metrics) k WHERE k <> ALL (p_known) ORDER BY k);
BEGIN
    PERFORM pgtrack._raise('PT003',
        format('unknown metric%s %s', CASE WHEN cardinality(v_unknown) > 1 THEN 's' ELSE '' END,
               array_to_string(ARRAY(SELECT quote_ident(u) FROM unnest(v_unknown) u), ', ')),
        format('known metrics: %s; add one with SELECT pgtrack.add_metric(%L)',
               coalesce(nullif(array_to_string(p_known, ', '), ''), '(none)'), v_unknown[1]));
END
$$;

CREATE FUNCTION pgtrack._bad_metric_rows(p_rows jsonb, p_known text[])
RETURNS void
LANGUAGE plpgsql
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

-- ---- sql/30_schema/columns.sql
-- Typed columns added at run time: metric columns on pgtrack.metrics, annotating fields on pgtrack.runs.

CREATE FUNCTION pgtrack._builtin_columns(p_table text)
RETURNS text[]
LANGUAGE sql
IMMUTABLE
AS $$
    /* The columns pgtrack itself defines; user columns may not take these names. */
    SELECT CASE p_table
        WHEN 'metrics' THEN ARRAY['run_id', 'step', 'progress']
        WHEN 'runs' THEN ARRAY['id', 'experiment_id', 'uuid', 'status', 'identity', 'attempt', 'time_created',
                               'time_started', 'time_updated', 'time_finished', 'comment', 'tags', 'args',
                               'env', 'error', 'worker']
    END
$$;

CREATE FUNCTION pgtrack._column_type(p_table text, p_name text)
RETURNS regtype
LANGUAGE sql
STABLE
AS $$
    /* Type of a live column of pgtrack.<p_table>, NULL if there is none. */
    SELECT a.atttypid::regtype
      FROM pg_attribute a
     WHERE a.attrelid = format('pgtrack.%I', p_table)::regclass
       AND a.attname = p_name AND a.attnum > 0 AND NOT a.attisdropped
$$;

CREATE FUNCTION pgtrack._add_column(p_table text, p_name text, p_type regtype, p_comment text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
/* Shared by add_metric and add_run_column (both SECURITY DEFINER, with lock_timeout set). Validates
   the name and type, serialises on the schema lock, then: false if the same column exists, PT005 if
   it exists with another type, else adds it. */
DECLARE
    v_existing regtype;
    v_kind     char;
BEGIN
    PERFORM pgtrack._validate_name(p_name, CASE p_table WHEN 'metrics' THEN 'metric' ELSE 'run column' END,
                                   pgtrack._builtin_columns(p_table));
    SELECT typtype INTO v_kind FROM pg_type WHERE oid = p_type;
    IF v_kind IS NULL OR v_kind NOT IN ('b', 'd', 'e') THEN
        PERFORM pgtrack._raise('PT003', format('type %s cannot be used for column %I', coalesce(p_type::text, 'NULL'), p_name),
            'use a scalar type such as double precision, bigint, boolean, text, timestamptz or jsonb');
    END IF;
    PERFORM pgtrack._lock_schema();
    v_existing := pgtrack._column_type(p_table, p_name);
    IF v_existing IS NOT NULL AND v_existing <> p_type THEN
        PERFORM pgtrack._raise('PT005', format('column %I of pgtrack.%I exists with type %s, not %s', p_name, p_table, v_existing, p_type),
            'pick another name, or drop the column first');
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

CREATE FUNCTION pgtrack._existing_metric(p_name text)
RETURNS text
LANGUAGE plpgsql
AS $$
/* Validate p_name and require that metric column to exist (PT003 naming the known ones otherwise). */
BEGIN
    PERFORM pgtrack._validate_name(p_name, 'metric', pgtrack._builtin_columns('metrics'));
    IF pgtrack._column_type('metrics', p_name) IS NULL THEN
        PERFORM pgtrack._raise('PT003', format('unknown metric %I', p_name),
            format('known metrics: %s', coalesce((SELECT string_agg(name, ', ') FROM pgtrack.metric_columns()), '(none)')));
    END IF;
    RETURN p_name;
END
$$;

CREATE FUNCTION pgtrack.add_metric(name text, type regtype DEFAULT 'double precision', comment text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
AS $$
/* Add a metric column to pgtrack.metrics; safe under concurrent callers (exactly one adds it). */
DECLARE
    v_added boolean;
BEGIN
    v_added := pgtrack._add_column('metrics', $1, $2, $3);
    IF v_added THEN
        PERFORM pgtrack._regenerate_writers();
    END IF;
    RETURN v_added;
END
$$;
COMMENT ON FUNCTION pgtrack.add_metric(text, regtype, text) IS
$$Add a metric column (default type double precision) to pgtrack.metrics. Returns true if added, false if a column of that name and type exists; PT005 if it exists with another type; PT003 for an invalid or reserved name. Safe under concurrent callers.$$;

CREATE FUNCTION pgtrack.drop_metric(name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
AS $$
/* Drop a metric column; refused (PT005) while any row holds a value unless force is true. */
DECLARE
    v_rows bigint;
BEGIN
    PERFORM pgtrack._lock_schema();
    PERFORM pgtrack._existing_metric($1);
    IF NOT coalesce($2, false) THEN
        EXECUTE format('SELECT count(*) FROM pgtrack.metrics WHERE %I IS NOT NULL', $1) INTO v_rows;
        IF v_rows > 0 THEN
            PERFORM pgtrack._raise('PT005', format('metric %I has values in %s rows', $1, v_rows),
                format('to drop it with its data: SELECT pgtrack.drop_metric(%L, force => true)', $1));
        END IF;
    END IF;
    PERFORM pgtrack._execute_guarded(format('ALTER TABLE pgtrack.metrics DROP COLUMN %I', $1));
    PERFORM pgtrack._regenerate_writers();
END
$$;
COMMENT ON FUNCTION pgtrack.drop_metric(text, boolean) IS
$$Drop a metric column. Refused (PT005) while any row has a value for it, unless force => true.$$;

CREATE FUNCTION pgtrack.rename_metric(old_name text, new_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
AS $$
/* Rename a metric column; the new name follows the name rule and must be free. */
BEGIN
    PERFORM pgtrack._lock_schema();
    PERFORM pgtrack._existing_metric($1);
    PERFORM pgtrack._validate_name($2, 'metric', pgtrack._builtin_columns('metrics'));
    IF pgtrack._column_type('metrics', $2) IS NOT NULL THEN
        PERFORM pgtrack._raise('PT005', format('metric %I already exists', $2),
            'choose a new name that is not in pgtrack.metric_columns()');
    END IF;
    PERFORM pgtrack._execute_guarded(format('ALTER TABLE pgtrack.metrics RENAME COLUMN %I TO %I', $1, $2));
    PERFORM pgtrack._regenerate_writers();
END
$$;
COMMENT ON FUNCTION pgtrack.rename_metric(text, text) IS
$$Rename a metric column (PT003 if old_name is unknown or new_name invalid, PT005 if new_name exists).$$;

CREATE FUNCTION pgtrack.metric_columns()
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

CREATE FUNCTION pgtrack.add_run_column(name text, type regtype, indexed boolean DEFAULT false, comment text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '10s'
AS $$
/* A typed per-run field (wallow's annotating fields); writable through register()'s annotating. */
DECLARE
    v_added boolean;
BEGIN
    v_added := pgtrack._add_column('runs', $1, $2, $4);
    IF coalesce($3, false) THEN
        PERFORM pgtrack._execute_guarded(format('CREATE INDEX IF NOT EXISTS %I ON pgtrack.runs (%I)',
                                                left('runs_' || $1, 59) || '_idx', $1));
    END IF;
    RETURN v_added;
END
$$;
COMMENT ON FUNCTION pgtrack.add_run_column(text, regtype, boolean, text) IS
$$Add a typed column to pgtrack.runs (an annotating field, writable through register(annotating => ...)); optionally indexed. Returns true if added, false if it exists with the same type; PT005 for another type; PT003 for an invalid or reserved name.$$;

-- ---- sql/40_experiments/experiments.sql
-- Experiments: race-free get-or-create, name/comment/tags, relationships (names follow SQLTrack).
-- Parameter names are part of the API (named-argument calls), so bodies refer to them as $n.

CREATE FUNCTION pgtrack.experiment(name text, comment text DEFAULT NULL, tags text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Get or create by name. Race-free: concurrent first callers all get the same id and none errors
   (INSERT ... ON CONFLICT DO NOTHING waits for the competing insert, then the SELECT sees it; the
   loop covers a competitor that rolled back). comment and tags apply only on creation. Looking up
   first means an existing name costs no sequence value and no dead tuple. */
DECLARE
    v_id bigint;
BEGIN
    PERFORM pgtrack._validate_label($1, 'experiment name');
    LOOP
        SELECT e.id INTO v_id FROM pgtrack.experiments e WHERE e.name = $1;
        IF FOUND THEN
            RETURN v_id;
        END IF;
        INSERT INTO pgtrack.experiments AS e (name, comment, tags)
        VALUES ($1, $2, pgtrack._tags_object($3))
        ON CONFLICT ON CONSTRAINT experiments_name_key DO NOTHING
        RETURNING e.id INTO v_id;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrack.experiment(text, text, text[]) IS
$$Get or create the experiment called name and return its id. Race-free under concurrent callers; comment and tags apply only when it is created.$$;

CREATE FUNCTION pgtrack.experiment_set_name(experiment_id bigint, name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Rename; PT003 if another experiment has the name. */
DECLARE
    v_other bigint;
BEGIN
    PERFORM pgtrack._validate_label($2, 'experiment name');
    PERFORM pgtrack._require_experiment($1);
    SELECT e.id INTO v_other FROM pgtrack.experiments e WHERE e.name = $2 AND e.id <> $1;
    IF FOUND THEN
        PERFORM pgtrack._raise('PT003', format('experiment name %L is taken by experiment %s', $2, v_other),
            'experiment names are unique; choose another name');
    END IF;
    UPDATE pgtrack.experiments e SET name = $2 WHERE e.id = $1;
END
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_name(bigint, text) IS $$Rename an experiment (names are unique).$$;

CREATE FUNCTION pgtrack.experiment_set_comment(experiment_id bigint, comment text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('experiments', $1, 'comment', $2);
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_comment(bigint, text) IS $$Set (or clear, with NULL) an experiment's comment.$$;

CREATE FUNCTION pgtrack.experiment_set_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('experiments', $1, 'tags', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_tags(bigint, text[]) IS $$Replace an experiment's tags (stored as {"tag": true, ...}).$$;

CREATE FUNCTION pgtrack.experiment_add_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('experiments', $1, 'tags', 'add', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.experiment_add_tags(bigint, text[]) IS $$Add tags to an experiment (existing tags stay).$$;

CREATE FUNCTION pgtrack.experiment_remove_tags(experiment_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('experiments', $1, 'tags', 'remove', NULL, pgtrack._validate_keys($2, 'tag'));
$$;
COMMENT ON FUNCTION pgtrack.experiment_remove_tags(bigint, text[]) IS $$Remove tags from an experiment (absent tags are ignored).$$;

CREATE FUNCTION pgtrack.experiment_add_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_relationship('experiments', $1, $2, $3, true);
$$;
COMMENT ON FUNCTION pgtrack.experiment_add_relationship(bigint, text, bigint) IS
$$Record that experiment from_id relates to experiment to_id by kind (free text, e.g. 'derived_from'); idempotent.$$;

CREATE FUNCTION pgtrack.experiment_remove_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_relationship('experiments', $1, $2, $3, false);
$$;
COMMENT ON FUNCTION pgtrack.experiment_remove_relationship(bigint, text, bigint) IS
$$Remove an experiment relationship (no error if it was absent; PT002 if either experiment does not exist).$$;

-- ---- sql/50_runs/metrics.sql
-- Logging metrics: public entry points over the generated writers (20_setup/writers.sql).
--
-- Hot path: these functions (and the generated writers) deliberately have no SET search_path. A SET
-- clause costs a GUC save/restore on every call, measured at ~0.3x of a hand-written statement's
-- time (bench/metrics_bench.py). They are SECURITY INVOKER and every name in them is qualified
-- (pg_catalog is always searched first unless a caller lists it later), so pinning gains nothing.

CREATE FUNCTION pgtrack._check_metric_call(p_run_id bigint, p_payload jsonb, p_kind text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Argument checks shared by run_add_metrics (p_kind 'object') and run_add_metrics_batch ('array'). */
BEGIN
    IF p_run_id IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'run_id must not be NULL', 'pass the id returned by pgtrack.create_run()');
    END IF;
    IF p_payload IS NULL OR jsonb_typeof(p_payload) <> p_kind THEN
        PERFORM pgtrack._raise('PT003',
            format('metrics must be a JSON %s, got %s', p_kind, coalesce(left(p_payload::text, 200), 'NULL')),
            CASE p_kind WHEN 'object' THEN 'pass metrics like ''{"loss": 0.25, "acc": 0.9}''::jsonb'
                        ELSE 'pass rows like ''[{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]''::jsonb' END);
    END IF;
END
$$;

CREATE FUNCTION pgtrack._bad_metric_value(p_run_id bigint, p_message text)
RETURNS void
LANGUAGE plpgsql
AS $$
/* PT003 for a metric value that does not fit its column's type. */
BEGIN
    PERFORM pgtrack._raise('PT003', format('invalid metric value for run %s: %s', p_run_id, p_message),
        'check the column types with SELECT * FROM pgtrack.metric_columns(); float columns also take "NaN", "Infinity", "-Infinity"');
END
$$;

CREATE FUNCTION pgtrack.run_add_metrics(run_id bigint, step bigint DEFAULT 0, progress double precision DEFAULT 0,
                                        metrics jsonb DEFAULT '{}', set_updated boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Upsert one metrics row keyed by (run_id, step, progress). Only the given keys are written, so
   several calls for one step merge; a JSON null leaves the stored value alone. */
BEGIN
    PERFORM pgtrack._check_metric_call($1, $4, 'object');
    IF $2 IS NULL OR $3 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'step and progress must not be NULL', 'omit them for 0');
    END IF;
    PERFORM pgtrack._metrics_write($1, $2, $3, $4, coalesce($5, true));
EXCEPTION WHEN data_exception THEN
    PERFORM pgtrack._bad_metric_value($1, SQLERRM);
END
$$;
COMMENT ON FUNCTION pgtrack.run_add_metrics(bigint, bigint, double precision, jsonb, boolean) IS
$$Log metrics for a run at (step, progress): an upsert that writes only the given keys, so calls for the same step merge. Unknown metric names: PT003 listing them and how to add them. Float columns accept "NaN", "Infinity", "-Infinity". An empty object still records the row. set_updated also sets runs.time_updated.$$;

CREATE FUNCTION pgtrack.run_add_metrics_batch(run_id bigint, rows jsonb, set_updated boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql
AS $$
/* Many rows in one INSERT statement, all or nothing. Each element of rows is an object with optional
   step, progress and metric keys; rows sharing (step, progress) are merged, later rows winning. */
BEGIN
    PERFORM pgtrack._check_metric_call($1, $2, 'array');
    RETURN pgtrack._metrics_write_batch($1, $2, coalesce($3, true));
EXCEPTION WHEN data_exception THEN
    PERFORM pgtrack._bad_metric_value($1, SQLERRM);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pgtrack.run_add_metrics_batch(bigint, jsonb, boolean) IS
$$Log many metric rows for a run in one statement (all or nothing): rows is a JSON array of objects with optional step, progress and metric keys. Same rules as run_add_metrics. Returns the number of (step, progress) rows written.$$;

-- ---- sql/50_runs/run_fields.sql
-- Run fields: status, timestamps, comment, tags/args/env, relationships (names follow SQLTrack).
-- Each is one call to a shared helper (10_internal/edits.sql); PT002 for a missing run.

CREATE FUNCTION pgtrack.run_set_status(run_id bigint, status pgtrack.runstatus)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF $2 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'status must not be NULL', 'pass a pgtrack.runstatus such as ''RUNNING''');
    END IF;
    PERFORM pgtrack._set_field('runs', $1, 'status', $2);
END
$$;
COMMENT ON FUNCTION pgtrack.run_set_status(bigint, pgtrack.runstatus) IS $$Set a run's status.$$;

CREATE FUNCTION pgtrack.run_set_created(run_id bigint, dt timestamptz DEFAULT clock_timestamp())
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'time_created', $2);
$$;
COMMENT ON FUNCTION pgtrack.run_set_created(bigint, timestamptz) IS $$Set a run's time_created (default: now; NULL clears it is refused: time_created is NOT NULL).$$;

CREATE FUNCTION pgtrack.run_set_started(run_id bigint, dt timestamptz DEFAULT clock_timestamp())
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'time_started', $2);
$$;
COMMENT ON FUNCTION pgtrack.run_set_started(bigint, timestamptz) IS $$Set a run's time_started (default: now; NULL clears it).$$;

CREATE FUNCTION pgtrack.run_set_updated(run_id bigint, dt timestamptz DEFAULT clock_timestamp())
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'time_updated', $2);
$$;
COMMENT ON FUNCTION pgtrack.run_set_updated(bigint, timestamptz) IS $$Set a run's time_updated (default: now; NULL clears it).$$;

CREATE FUNCTION pgtrack.run_set_comment(run_id bigint, comment text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'comment', $2);
$$;
COMMENT ON FUNCTION pgtrack.run_set_comment(bigint, text) IS $$Set (or clear, with NULL) a run's comment.$$;

CREATE FUNCTION pgtrack.run_set_tags(run_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'tags', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.run_set_tags(bigint, text[]) IS $$Replace a run's tags (stored as {"tag": true, ...}).$$;

CREATE FUNCTION pgtrack.run_add_tags(run_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('runs', $1, 'tags', 'add', pgtrack._tags_object($2));
$$;
COMMENT ON FUNCTION pgtrack.run_add_tags(bigint, text[]) IS $$Add tags to a run.$$;

CREATE FUNCTION pgtrack.run_remove_tags(run_id bigint, VARIADIC tags text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('runs', $1, 'tags', 'remove', NULL, pgtrack._validate_keys($2, 'tag'));
$$;
COMMENT ON FUNCTION pgtrack.run_remove_tags(bigint, text[]) IS $$Remove tags from a run (absent tags are ignored).$$;

CREATE FUNCTION pgtrack.run_set_args(run_id bigint, args jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'args', pgtrack._require_object($2, 'args'));
$$;
COMMENT ON FUNCTION pgtrack.run_set_args(bigint, jsonb) IS $$Replace a run's args (a JSON object, or NULL).$$;

CREATE FUNCTION pgtrack.run_add_args(run_id bigint, args jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('runs', $1, 'args', 'add', pgtrack._require_object($2, 'args'));
$$;
COMMENT ON FUNCTION pgtrack.run_add_args(bigint, jsonb) IS $$Merge a JSON object into a run's args (given keys win, other keys stay).$$;

CREATE FUNCTION pgtrack.run_remove_args(run_id bigint, VARIADIC keys text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('runs', $1, 'args', 'remove', NULL, pgtrack._validate_keys($2, 'args key'));
$$;
COMMENT ON FUNCTION pgtrack.run_remove_args(bigint, text[]) IS $$Remove keys from a run's args (absent keys are ignored).$$;

CREATE FUNCTION pgtrack.run_set_env(run_id bigint, env jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._set_field('runs', $1, 'env', pgtrack._require_object($2, 'env'));
$$;
COMMENT ON FUNCTION pgtrack.run_set_env(bigint, jsonb) IS $$Replace a run's env (a JSON object, or NULL).$$;

CREATE FUNCTION pgtrack.run_add_env(run_id bigint, env jsonb)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('runs', $1, 'env', 'add', pgtrack._require_object($2, 'env'));
$$;
COMMENT ON FUNCTION pgtrack.run_add_env(bigint, jsonb) IS $$Merge a JSON object into a run's env (given keys win, other keys stay).$$;

CREATE FUNCTION pgtrack.run_remove_env(run_id bigint, VARIADIC keys text[])
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_jsonb('runs', $1, 'env', 'remove', NULL, pgtrack._validate_keys($2, 'env key'));
$$;
COMMENT ON FUNCTION pgtrack.run_remove_env(bigint, text[]) IS $$Remove keys from a run's env (absent keys are ignored).$$;

CREATE FUNCTION pgtrack.run_add_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_relationship('runs', $1, $2, $3, true);
$$;
COMMENT ON FUNCTION pgtrack.run_add_relationship(bigint, text, bigint) IS
$$Record that run from_id relates to run to_id by kind (free text, e.g. 'resumed_from'); idempotent.$$;

CREATE FUNCTION pgtrack.run_remove_relationship(from_id bigint, kind text, to_id bigint)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pgtrack._edit_relationship('runs', $1, $2, $3, false);
$$;
COMMENT ON FUNCTION pgtrack.run_remove_relationship(bigint, text, bigint) IS
$$Remove a run relationship (no error if it was absent; PT002 if either run does not exist).$$;

-- ---- sql/50_runs/runs.sql
-- Runs: creation (including explicit ids such as Slurm job ids), start/stop and scalar setters.
-- Parameter names are part of the API (named-argument calls), so bodies refer to them as $n.

CREATE FUNCTION pgtrack._reserve_run_id(p_run_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
/* After inserting an explicit id, move the runs id sequence past it so it never hands that id out.
   Serialised by an advisory lock, and it only ever moves the sequence forward: nextval() tells where
   it stands now, setval() is called only when the explicit id is ahead of it. */
DECLARE
    v_seq  text := pg_get_serial_sequence('pgtrack.runs', 'id');
BEGIN
    PERFORM pg_advisory_xact_lock(1886352498, 2);
    IF nextval(v_seq) < p_run_id THEN
        PERFORM setval(v_seq, p_run_id);
    END IF;
END
$$;

CREATE FUNCTION pgtrack.create_run(experiment_id bigint, run_id bigint DEFAULT NULL,
                                   status pgtrack.runstatus DEFAULT 'PENDING', comment text DEFAULT NULL,
                                   tags text[] DEFAULT NULL, args jsonb DEFAULT NULL, env jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Create a run (SQLTrack style, no dedup). With run_id: get or create exactly that id; the other
   arguments apply only on creation, and an id that belongs to another experiment is PT003. */
DECLARE
    v_id  bigint;
    v_exp bigint;
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._require_object($6, 'args'), pgtrack._require_object($7, 'env');
    IF $3 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'status must not be NULL', 'omit status for PENDING, or pass a pgtrack.runstatus');
    END IF;
    IF $2 IS NULL THEN
        LOOP  -- an id inserted explicitly by raw SQL is skipped rather than reported
            INSERT INTO pgtrack.runs AS r (experiment_id, status, comment, tags, args, env)
            VALUES ($1, $3, $4, pgtrack._tags_object($5), $6, $7)
            ON CONFLICT (id) DO NOTHING
            RETURNING r.id INTO v_id;
            IF v_id IS NOT NULL THEN
                RETURN v_id;
            END IF;
        END LOOP;
    END IF;
    IF $2 <= 0 THEN
        PERFORM pgtrack._raise('PT003', format('run_id must be positive, got %s', $2), 'pass a positive id such as a Slurm job id');
    END IF;
    LOOP
        SELECT r.experiment_id INTO v_exp FROM pgtrack.runs r WHERE r.id = $2;
        IF FOUND THEN
            IF v_exp <> $1 THEN
                PERFORM pgtrack._raise('PT003', format('run %s belongs to experiment %s, not %s', $2, v_exp, $1),
                    'pass the run''s own experiment id, or another run_id');
            END IF;
            RETURN $2;
        END IF;
        INSERT INTO pgtrack.runs AS r (id, experiment_id, status, comment, tags, args, env)
        VALUES ($2, $1, $3, $4, pgtrack._tags_object($5), $6, $7)
        ON CONFLICT (id) DO NOTHING
        RETURNING r.id INTO v_id;
        IF v_id IS NOT NULL THEN
            PERFORM pgtrack._reserve_run_id(v_id);
            RETURN v_id;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrack.create_run(bigint, bigint, pgtrack.runstatus, text, text[], jsonb, jsonb) IS
$$Create a run in an experiment and return its id. With run_id (e.g. a Slurm job id): get or create that exact id; the id sequence never later hands out an id that was inserted explicitly.$$;

CREATE FUNCTION pgtrack.run_start(run_id bigint, started timestamptz DEFAULT clock_timestamp())
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* RUNNING; time_started = time_updated = started. time_finished and error of an earlier attempt are
   cleared so a restarted run does not show stale failure data. */
BEGIN
    UPDATE pgtrack.runs r
       SET status = 'RUNNING', time_started = $2, time_updated = $2, time_finished = NULL, error = NULL
     WHERE r.id = $1;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('run', $1);
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.run_start(bigint, timestamptz) IS
$$Mark a run RUNNING: sets time_started and time_updated (default: now), clears time_finished and error.$$;

CREATE FUNCTION pgtrack._lease_check_failed(p_run_id bigint, p_attempt integer)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Called when an UPDATE ... WHERE id = p_run_id AND attempt = p_attempt matched nothing:
   PT002 if the run does not exist, else PT004 (lease lost). */
DECLARE
    v_attempt integer;
BEGIN
    SELECT r.attempt INTO v_attempt FROM pgtrack.runs r WHERE r.id = p_run_id;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('run', p_run_id);
    END IF;
    PERFORM pgtrack._raise('PT004',
        format('lease lost: run %s is at attempt %s, not %s', p_run_id, v_attempt, p_attempt),
        'another worker claimed this run after it went stale; stop working on it and do not write results');
END
$$;

CREATE FUNCTION pgtrack.run_stop(run_id bigint, status pgtrack.runstatus DEFAULT 'COMPLETED',
                                 error text DEFAULT NULL, attempt integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Final status; time_finished = time_updated = now. With attempt: PT004 unless it is still the run's
   current attempt (a worker whose run was re-claimed must not overwrite the new holder's status). */
BEGIN
    IF $2 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'status must not be NULL', 'omit status for COMPLETED, or pass a pgtrack.runstatus');
    END IF;
    UPDATE pgtrack.runs r
       SET status = $2, time_finished = clock_timestamp(), time_updated = clock_timestamp(), error = $3
     WHERE r.id = $1 AND ($4 IS NULL OR r.attempt = $4);
    IF NOT FOUND THEN
        PERFORM pgtrack._lease_check_failed($1, $4);
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.run_stop(bigint, pgtrack.runstatus, text, integer) IS
$$Stop a run: status (default COMPLETED), time_finished, time_updated and error. With attempt, PT004 if the run was claimed by a newer attempt.$$;

CREATE FUNCTION pgtrack.heartbeat(run_id bigint, attempt integer DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Liveness: time_updated = now (the database clock). With attempt: PT004 when it is no longer the
   run's current attempt, so a worker presumed dead learns that it lost the run. */
DECLARE
    v_at timestamptz;
BEGIN
    UPDATE pgtrack.runs r SET time_updated = clock_timestamp()
     WHERE r.id = $1 AND ($2 IS NULL OR r.attempt = $2)
    RETURNING r.time_updated INTO v_at;
    IF NOT FOUND THEN
        PERFORM pgtrack._lease_check_failed($1, $2);
    END IF;
    RETURN v_at;
END
$$;
COMMENT ON FUNCTION pgtrack.heartbeat(bigint, integer) IS
$$Set a run's time_updated to now and return it; PT002 if the run does not exist; PT004 (lease lost) if attempt is given and is not the run's current attempt.$$;

-- ---- sql/60_registry/identifying.sql
-- Declared identifying fields per experiment, and guarded changes to them.

CREATE FUNCTION pgtrack.declare_identifying(experiment_id bigint, name text, type text,
                                            default_value jsonb DEFAULT NULL, doc text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Declare (or re-declare) an identifying field. Same type again: doc and default are updated. Another
   type: PT005. A new field on an experiment that already has registered runs needs a default, which
   is written into every existing identity in this transaction (PT005 without one). */
DECLARE
    v_old_type  text;
    v_default   jsonb;
    v_precision integer;
BEGIN
    PERFORM pgtrack._validate_name($2, 'identifying field');
    IF $3 IS NULL OR $3 NOT IN ('int', 'float', 'string', 'bool') THEN
        PERFORM pgtrack._raise('PT003', format('unknown identifying field type %s', coalesce(quote_literal($3), 'NULL')),
            'use one of int, float, string, bool');
    END IF;
    SELECT e.float_precision INTO v_precision FROM pgtrack.experiments e WHERE e.id = $1;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('experiment', $1);
    END IF;
    IF $4 IS NOT NULL AND jsonb_typeof($4) <> 'null' THEN
        v_default := pgtrack._normalize_value($2, $3, $4, v_precision);
    END IF;
    PERFORM pgtrack._lock_registry($1, true);

    SELECT f.type INTO v_old_type FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1 AND f.name = $2;
    IF FOUND THEN
        IF v_old_type <> $3 THEN
            PERFORM pgtrack._raise('PT005',
                format('identifying field %I of experiment %s is %s; changing it to %s is refused', $2, $1, v_old_type, $3),
                'existing identities were normalised as the old type; declare a new field instead');
        END IF;
        UPDATE pgtrack.identifying_fields f SET default_value = v_default, doc = $5
         WHERE f.experiment_id = $1 AND f.name = $2;
        RETURN;
    END IF;

    IF EXISTS (SELECT FROM pgtrack.runs r WHERE r.experiment_id = $1 AND r.identity IS NOT NULL) THEN
        IF v_default IS NULL THEN
            PERFORM pgtrack._raise('PT005',
                format('experiment %s has registered runs; new identifying field %I needs a default', $1, $2),
                format('pass default_value => ... so existing runs get %I = default', $2));
        END IF;
        INSERT INTO pgtrack.identifying_fields (experiment_id, name, type, default_value, doc)
        VALUES ($1, $2, $3, v_default, $5);
        UPDATE pgtrack.runs r SET identity = r.identity || jsonb_build_object($2, v_default)
         WHERE r.experiment_id = $1 AND r.identity IS NOT NULL;
    ELSE
        INSERT INTO pgtrack.identifying_fields (experiment_id, name, type, default_value, doc)
        VALUES ($1, $2, $3, v_default, $5);
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.declare_identifying(bigint, text, text, jsonb, text) IS
$$Declare an identifying field (int, float, string or bool) of an experiment, with an optional default and doc. Re-declaring with the same type updates doc/default; another type is PT005. On an experiment with registered runs a new field needs a default (PT005 otherwise), which is backfilled into every identity in the same transaction.$$;

CREATE FUNCTION pgtrack.collisions_after_drop(experiment_id bigint, name text)
RETURNS TABLE (identity jsonb, run_ids bigint[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Groups of runs whose identities would be equal without field name: one GROUP BY query.
   Groups have at least two runs, run_ids sorted, groups ordered by their first run id. */
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._validate_name($2, 'identifying field');
    IF NOT EXISTS (SELECT FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1 AND f.name = $2) THEN
        PERFORM pgtrack._raise('PT003', format('experiment %s has no identifying field %I', $1, $2),
            'list the fields with SELECT name FROM pgtrack.identifying_fields WHERE experiment_id = ...');
    END IF;
    RETURN QUERY
        SELECT r.identity - $2, array_agg(r.id ORDER BY r.id)
          FROM pgtrack.runs r
         WHERE r.experiment_id = $1 AND r.identity IS NOT NULL
         GROUP BY r.identity - $2
        HAVING count(*) > 1
         ORDER BY min(r.id);
END
$$;
COMMENT ON FUNCTION pgtrack.collisions_after_drop(bigint, text) IS
$$The groups of runs (identity without the field, sorted run ids; each group of 2 or more) that would collide if the identifying field were dropped. One query.$$;

CREATE FUNCTION pgtrack.drop_identifying(experiment_id bigint, name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Remove a field from the experiment and from every identity; refused (PT005) when runs would collide. */
DECLARE
    v_groups integer;
    v_first  bigint[];
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._lock_registry($1, true);
    SELECT count(*), (array_agg(c.run_ids))[1:1] INTO v_groups, v_first
      FROM pgtrack.collisions_after_drop($1, $2) c;
    IF v_groups > 0 THEN
        PERFORM pgtrack._raise('PT005',
            format('dropping identifying field %I of experiment %s would make runs collide in %s group(s), e.g. runs %s',
                   $2, $1, v_groups, (SELECT string_agg(x::text, ', ') FROM unnest(v_first) x)),
            format('see SELECT * FROM pgtrack.collisions_after_drop(%s, %L); delete or re-key those runs first', $1, $2));
    END IF;
    DELETE FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1 AND f.name = $2;
    UPDATE pgtrack.runs r SET identity = r.identity - $2
     WHERE r.experiment_id = $1 AND r.identity ? $2;
END
$$;
COMMENT ON FUNCTION pgtrack.drop_identifying(bigint, text) IS
$$Drop an identifying field: removed from the experiment and from every run's identity. Refused (PT005) while dropping would make two runs collide (see collisions_after_drop).$$;

-- ---- sql/60_registry/normalize.sql
-- Normalising identifying values: the one definition of "the same run" for the registry.

CREATE FUNCTION pgtrack._round_significant(p_value numeric, p_digits integer)
RETURNS numeric
LANGUAGE plpgsql
IMMUTABLE
STRICT
AS $$
/* Round to p_digits significant decimal digits, half away from zero, then strip trailing zeros.
   Works on the exact decimal the caller sent: a JSON number is parsed by PostgreSQL as numeric, so
   Python's 0.1+0.2 arrives as its shortest text 0.30000000000000004 and rounds to 0.3 at 12 digits.
   The decimal exponent is counted from the digits (no log10), so powers of ten are exact. -0 is 0. */
DECLARE
    v_abs      numeric := abs(p_value);
    v_text     text;
    v_exponent integer;  -- position of the first significant digit: 10^v_exponent <= |x| < 10^(v_exponent+1)
BEGIN
    IF v_abs = 0 THEN
        RETURN 0;
    END IF;
    v_text := v_abs::text;  -- numeric output is plain decimal, never exponent notation
    IF v_abs >= 1 THEN
        v_exponent := length(split_part(v_text, '.', 1)) - 1;
    ELSE
        v_exponent := -(length(split_part(v_text, '.', 2)) - length(ltrim(split_part(v_text, '.', 2), '0')) + 1);
    END IF;
    RETURN trim_scale(round(p_value, p_digits - 1 - v_exponent));
END
$$;

CREATE FUNCTION pgtrack._normalize_value(p_field text, p_type text, p_value jsonb, p_precision integer)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Strict type check and canonical form of one identifying value; PT003 naming the field otherwise.
   int: JSON integers only (1.0, 1.5, true, "1" rejected); bool: true/false only; string: JSON strings
   only (kept byte for byte); float: any JSON number, rounded by _round_significant. */
DECLARE
    v_kind text := jsonb_typeof(p_value);
BEGIN
    IF p_value IS NULL OR v_kind = 'null' THEN
        PERFORM pgtrack._raise('PT003', format('identifying field %I must not be null', p_field),
            'pass a value, or omit the field if it has a default');
    END IF;
    IF p_type = 'int' AND v_kind = 'number' AND scale(p_value::numeric) = 0 THEN
        RETURN to_jsonb(p_value::numeric);
    ELSIF p_type = 'float' AND v_kind = 'number' THEN
        RETURN to_jsonb(pgtrack._round_significant(p_value::numeric, p_precision));
    ELSIF p_type = 'bool' AND v_kind = 'boolean' OR p_type = 'string' AND v_kind = 'string' THEN
        RETURN p_value;
    ELSIF p_type = 'float' AND v_kind = 'string' AND lower(p_value #>> '{}') IN ('nan', 'infinity', '-infinity', 'inf', '-inf', '+infinity') THEN
        PERFORM pgtrack._raise('PT003', format('identifying field %I must be a finite number, got %s', p_field, p_value),
            'NaN and infinities cannot identify a run; pass a finite number');
    END IF;
    PERFORM pgtrack._raise('PT003', format('identifying field %I expects %s, got %s %s', p_field,
            CASE p_type WHEN 'int' THEN 'a JSON integer' WHEN 'float' THEN 'a JSON number'
                        WHEN 'bool' THEN 'JSON true or false' ELSE 'a JSON string' END,
            v_kind, left(p_value::text, 100)),
        format('pass a %s value for %I', p_type, p_field));
    RETURN NULL;
END
$$;

CREATE FUNCTION pgtrack.normalize_identity(experiment_id bigint, identifying jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Fill defaults, reject unknown or missing fields, check types strictly, canonicalise values.
   Takes the experiment's registry lock in shared mode, so it cannot interleave with a concurrent
   declare_identifying/drop_identifying, which take it exclusively. VOLATILE on purpose: after waiting
   for that lock, the field list must be read with a new snapshot. */
DECLARE
    v_precision integer;
    v_result    jsonb := '{}';
    v_unknown   text[];
    v_field     record;
BEGIN
    IF $2 IS NULL OR jsonb_typeof($2) <> 'object' THEN
        PERFORM pgtrack._raise('PT003', format('identifying must be a JSON object, got %s', coalesce(left($2::text, 200), 'NULL')),
            'pass identifying fields like ''{"lr": 0.1, "seed": 1}''::jsonb');
    END IF;
    SELECT e.float_precision INTO v_precision FROM pgtrack.experiments e WHERE e.id = $1;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('experiment', $1);
    END IF;
    PERFORM pgtrack._lock_registry($1, false);

    FOR v_field IN
        SELECT f.name, f.type, coalesce($2 -> f.name, f.default_value) AS value, $2 ? f.name AS given
          FROM pgtrack.identifying_fields f WHERE f.experiment_id = $1
    LOOP
        IF v_field.value IS NULL THEN
            PERFORM pgtrack._raise('PT003', format('missing identifying field %I for experiment %s', v_field.name, $1),
                format('pass %I, or declare it with a default', v_field.name));
        END IF;
        v_result := v_result || jsonb_build_object(v_field.name,
            pgtrack._normalize_value(v_field.name, v_field.type,
                                     CASE WHEN v_field.given THEN $2 -> v_field.name ELSE v_field.value END, v_precision));
    END LOOP;

    v_unknown := ARRAY(SELECT k FROM jsonb_object_keys($2) k WHERE NOT v_result ? k ORDER BY k);
    IF cardinality(v_unknown) > 0 THEN
        PERFORM pgtrack._raise('PT003', format('unknown identifying field%s %s for experiment %s',
                CASE WHEN cardinality(v_unknown) > 1 THEN 's' ELSE '' END, array_to_string(v_unknown, ', '), $1),
            format('declared fields: %s; declare more with pgtrack.declare_identifying()',
                   coalesce((SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(v_result) k), '(none)')));
    END IF;
    RETURN v_result;
END
$$;
COMMENT ON FUNCTION pgtrack.normalize_identity(bigint, jsonb) IS
$$Canonical form of a run's identifying values: defaults filled; unknown, missing or null fields rejected (PT003); strict types (int: JSON integers; bool: true/false; string: JSON strings; float: any finite JSON number); floats rounded to the experiment's float_precision significant digits, half away from zero on the decimal text, -0 as 0, trailing zeros stripped (so 0.1+0.2 and 0.3, and 1 and 1.0, are one key).$$;

CREATE FUNCTION pgtrack._runs_normalize_identity()
RETURNS trigger
LANGUAGE plpgsql
AS $$
/* BEFORE INSERT/UPDATE trigger on pgtrack.runs: every write of identity, raw SQL included, is
   normalised, so the unique key (experiment_id, identity) cannot be bypassed. */
BEGIN
    NEW.identity := pgtrack.normalize_identity(NEW.experiment_id, NEW.identity);
    RETURN NEW;
END
$$;

-- ---- sql/60_registry/queue.sql
-- The work queue: enqueue identities as PENDING runs, hand them out with FOR UPDATE SKIP LOCKED.

CREATE FUNCTION pgtrack.enqueue(experiment_id bigint, identities jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* One INSERT ... SELECT ... ON CONFLICT DO NOTHING: existing keys (and repeats inside the array) are
   skipped; returns how many runs are new. Invalid identities fail the whole call. */
DECLARE
    v_count integer;
BEGIN
    PERFORM pgtrack._require_experiment($1);
    IF $2 IS NULL OR jsonb_typeof($2) <> 'array' THEN
        PERFORM pgtrack._raise('PT003', format('identities must be a JSON array, got %s', coalesce(left($2::text, 200), 'NULL')),
            'pass identities like ''[{"lr": 0.1}, {"lr": 0.01}]''::jsonb');
    END IF;
    INSERT INTO pgtrack.runs AS r (experiment_id, identity)
    SELECT $1, pgtrack.normalize_identity($1, e.value)
      FROM jsonb_array_elements($2) WITH ORDINALITY AS e(value, ord)
     ORDER BY e.ord
    ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION pgtrack.enqueue(bigint, jsonb) IS
$$Register a JSON array of identities as PENDING runs in one statement, skipping existing ones; returns how many were new.$$;

CREATE FUNCTION pgtrack.claim_next(experiment_id bigint, stale_after interval, worker text DEFAULT NULL)
RETURNS pgtrack.registration
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Hand out one claimable run, in three steps, oldest id first within each: PENDING runs; then other
   non-live, non-COMPLETED runs (FAILED, CANCELLED, TIMEOUT, ...); then live runs whose time_updated
   is older than stale_after. Each step is an index-ordered LIMIT 1 FOR UPDATE SKIP LOCKED, so N
   workers take different runs without waiting, and the row lock re-checks the condition on the
   latest row version: a run is never handed out twice while its holder heartbeats. Only registry
   runs (identity not NULL) are queue items; runs made by create_run belong to whoever created them
   (e.g. a Slurm job). The worker name is stored in runs.worker. NULL run_id when nothing is left.
   Query shape: experiment_id is bounded by a range (>= and <=) and rows are ordered by
   (experiment_id, id), not by id alone. With "= $1 ... ORDER BY id" the planner may walk the primary
   key in id order and filter past every other experiment's runs, expecting a match within a few
   rows (measured: 3 ms per claim at 30k runs); this shape can only be served in order by
   runs_experiment_status_idx (0.02 ms), with a custom or a generic plan. */
DECLARE
    v_id   bigint;
    c_live CONSTANT pgtrack.runstatus[] := pgtrack._live_statuses();
BEGIN
    PERFORM pgtrack._require_experiment($1);
    IF $2 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'claim_next requires stale_after',
            'pass stale_after => interval ''10 minutes'' (2-3x the longest gap between heartbeats)');
    END IF;
    SELECT r.id INTO v_id FROM pgtrack.runs r
     WHERE r.experiment_id >= $1 AND r.experiment_id <= $1 AND r.status = 'PENDING' AND r.identity IS NOT NULL
     ORDER BY r.experiment_id, r.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF v_id IS NULL THEN
        SELECT r.id INTO v_id FROM pgtrack.runs r
         WHERE r.experiment_id >= $1 AND r.experiment_id <= $1 AND r.status <> ALL (c_live || '{PENDING,COMPLETED}'::pgtrack.runstatus[])
           AND r.identity IS NOT NULL
         ORDER BY r.experiment_id, r.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF v_id IS NULL THEN
        SELECT r.id INTO v_id FROM pgtrack.runs r
         WHERE r.experiment_id >= $1 AND r.experiment_id <= $1 AND r.status = ANY (c_live) AND r.identity IS NOT NULL
           AND coalesce(r.time_updated, r.time_created) < clock_timestamp() - $2
         ORDER BY r.experiment_id, r.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    END IF;
    IF v_id IS NULL THEN
        RETURN ROW(NULL, NULL, NULL, NULL, false, false, false)::pgtrack.registration;
    END IF;
    UPDATE pgtrack.runs r
       SET status = 'RUNNING', attempt = r.attempt + 1, time_started = clock_timestamp(),
           time_updated = clock_timestamp(), time_finished = NULL, error = NULL, worker = $3
     WHERE r.id = v_id;
    RETURN pgtrack._registration(v_id, false, true, false);
END
$$;
COMMENT ON FUNCTION pgtrack.claim_next(bigint, interval, text) IS
$$Claim one run of the experiment for a worker (FOR UPDATE SKIP LOCKED): PENDING first, then failed/cancelled ones, then live runs stale for longer than stale_after. Sets RUNNING, attempt+1 (the lease), time_started/time_updated and runs.worker. NULL run_id when nothing is left.$$;

-- ---- sql/60_registry/register.sql
-- register(): wallow's on_duplicate policies, each decided by one INSERT ... ON CONFLICT statement.

CREATE FUNCTION pgtrack._live_statuses()
RETURNS pgtrack.runstatus[]
LANGUAGE sql
IMMUTABLE
AS $$
    /* States in which a run has a live holder: claimable only once its time_updated is stale. */
    SELECT '{RUNNING,CONFIGURING,COMPLETING,SIGNALING,STAGE_OUT,RESIZING,SUSPENDED}'::pgtrack.runstatus[]
$$;

CREATE FUNCTION pgtrack._annotating_values(p_annotating jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
/* Validate register()'s annotating argument before anything is written, on every path: keys may be
   status, comment, tags (JSON array), args, env, error and columns added with add_run_column; every
   value must convert to its column's type. Returns the values ready for _apply_annotating (tags as
   the stored {"tag": true} object). PT003 otherwise. */
DECLARE
    v_allowed text[];
    v_bad     text[];
    v_values  jsonb := pgtrack._require_object(p_annotating, 'annotating');
BEGIN
    SELECT ARRAY['status', 'comment', 'tags', 'args', 'env', 'error'] || coalesce(array_agg(a.attname::text), '{}')
      INTO v_allowed
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = 'pgtrack.runs'::regclass AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> ALL (pgtrack._builtin_columns('runs'));
    v_bad := ARRAY(SELECT k FROM jsonb_object_keys(v_values) k WHERE k <> ALL (v_allowed) ORDER BY k);
    IF cardinality(v_bad) > 0 THEN
        PERFORM pgtrack._raise('PT003', format('unknown annotating field%s %s', CASE WHEN cardinality(v_bad) > 1 THEN 's' ELSE '' END,
                                               array_to_string(v_bad, ', ')),
            format('allowed: %s; add a typed field with SELECT pgtrack.add_run_column(%L, ''text'')',
                   array_to_string(v_allowed, ', '), v_bad[1]));
    END IF;
    IF v_values ? 'tags' AND jsonb_typeof(v_values -> 'tags') <> 'null' THEN
        IF jsonb_typeof(v_values -> 'tags') <> 'array' THEN
            PERFORM pgtrack._raise('PT003', format('annotating tags must be a JSON array, got %s', v_values -> 'tags'),
                'pass tags like ["baseline", "gpu"]');
        END IF;
        v_values := jsonb_set(v_values, '{tags}',
            pgtrack._tags_object(ARRAY(SELECT jsonb_array_elements_text(v_values -> 'tags'))));
    END IF;
    PERFORM pgtrack._require_object(v_values -> 'args', 'args'), pgtrack._require_object(v_values -> 'env', 'env');
    IF v_values ? 'status' AND jsonb_typeof(v_values -> 'status') = 'null' THEN
        PERFORM pgtrack._raise('PT003', 'annotating status must not be null', 'omit status, or pass one such as "RUNNING"');
    END IF;
    BEGIN
        PERFORM jsonb_populate_record(NULL::pgtrack.runs, v_values);  -- every value converts to its type
    EXCEPTION WHEN data_exception THEN
        PERFORM pgtrack._raise('PT003', format('invalid annotating value: %s', SQLERRM),
            'check the value types of the annotating fields (SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ''runs'')');
    END;
    RETURN v_values;
END
$$;

CREATE FUNCTION pgtrack._apply_annotating(p_run_id bigint, p_values jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Write annotating values (checked by _annotating_values) onto a run the caller holds: just
   inserted, or locked by its ON CONFLICT update. One UPDATE; jsonb_populate_record converts types. */
BEGIN
    EXECUTE format('UPDATE pgtrack.runs SET (%1$s) = (SELECT %1$s FROM jsonb_populate_record(NULL::pgtrack.runs, $1)) WHERE id = $2',
                   (SELECT string_agg(format('%I', k), ', ') FROM jsonb_object_keys(p_values) k))
      USING p_values, p_run_id;
END
$$;

CREATE FUNCTION pgtrack._registration(p_run_id bigint, p_inserted boolean, p_updated boolean, p_skipped boolean)
RETURNS pgtrack.registration
LANGUAGE sql
STABLE
AS $$
    /* The registration row for a run as it is now. */
    SELECT r.id, r.uuid, r.status, r.attempt, p_inserted, p_updated, p_skipped
      FROM pgtrack.runs r WHERE r.id = p_run_id
$$;

CREATE FUNCTION pgtrack.register(experiment_id bigint, identifying jsonb, annotating jsonb DEFAULT '{}',
                                 on_duplicate text DEFAULT NULL, stale_after interval DEFAULT NULL)
RETURNS pgtrack.registration
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* One atomic decision per call, made by a single INSERT ... ON CONFLICT (no catch-and-retry):
   raise / return_existing / skip use DO NOTHING and then read the row that won; overwrite and
   claim_if_stale use DO UPDATE, whose WHERE is re-checked on the locked, latest row version, so
   under any number of concurrent callers exactly one wins each claim. RETURNING (xmax = 0) tells an
   insert from an update, and RETURNING fills the result without reading the row again. Staleness is judged by the database clock only. */
DECLARE
    p_experiment_id ALIAS FOR $1;
    p_annotating    jsonb := coalesce($3, '{}');
    p_policy        ALIAS FOR $4;
    p_stale_after   ALIAS FOR $5;
    v_identity      jsonb;
    v_result        pgtrack.registration;  -- the run this call inserted or updated
    v_existing      bigint;                -- the run that already had this key
    v_id            bigint;
BEGIN
    IF p_policy IS NULL OR p_policy NOT IN ('raise', 'return_existing', 'overwrite', 'skip', 'claim_if_stale') THEN
        PERFORM pgtrack._raise('PT003', format('invalid on_duplicate policy %s', coalesce(quote_literal(p_policy), 'NULL')),
            'on_duplicate is required: one of raise, return_existing, overwrite, skip, claim_if_stale');
    END IF;
    IF p_policy = 'claim_if_stale' AND p_stale_after IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'on_duplicate => ''claim_if_stale'' requires stale_after',
            'pass stale_after => interval ''10 minutes'' (2-3x the longest gap between heartbeats)');
    END IF;
    IF p_annotating <> '{}' THEN
        p_annotating := pgtrack._annotating_values(p_annotating);
    END IF;
    v_identity := pgtrack.normalize_identity(p_experiment_id, $2);

    IF p_policy = 'claim_if_stale' THEN
        INSERT INTO pgtrack.runs AS r (experiment_id, identity, status, attempt, time_started, time_updated)
        VALUES (p_experiment_id, v_identity, 'RUNNING', 1, clock_timestamp(), clock_timestamp())
        ON CONFLICT ON CONSTRAINT runs_identity_key DO UPDATE
           SET status = 'RUNNING', attempt = r.attempt + 1, time_started = clock_timestamp(),
               time_updated = clock_timestamp(), time_finished = NULL, error = NULL
         WHERE r.status <> 'COMPLETED'
           AND (r.status <> ALL (pgtrack._live_statuses())
                OR coalesce(r.time_updated, r.time_created) < clock_timestamp() - p_stale_after)
        RETURNING r.id, r.uuid, r.status, r.attempt, r.xmax = 0, r.xmax <> 0, false INTO v_result;
    ELSIF p_policy = 'overwrite' THEN
        INSERT INTO pgtrack.runs AS r (experiment_id, identity, time_updated)
        VALUES (p_experiment_id, v_identity, clock_timestamp())
        ON CONFLICT ON CONSTRAINT runs_identity_key DO UPDATE SET time_updated = clock_timestamp()
        RETURNING r.id, r.uuid, r.status, r.attempt, r.xmax = 0, r.xmax <> 0, false INTO v_result;
    ELSE
        -- Look first: a hit costs no sequence value and no dead tuple. A miss inserts; losing that
        -- race to a concurrent insert lands in the DO NOTHING branch and reads the winner below.
        -- The loop only repeats if the row that won was deleted before we could read it.
        LOOP
            SELECT r.id INTO v_existing FROM pgtrack.runs r WHERE r.experiment_id = p_experiment_id AND r.identity = v_identity;
            EXIT WHEN v_existing IS NOT NULL;
            INSERT INTO pgtrack.runs AS r (experiment_id, identity)
            VALUES (p_experiment_id, v_identity)
            ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING
            RETURNING r.id, r.uuid, r.status, r.attempt, true, false, false INTO v_result;
            EXIT WHEN v_result.run_id IS NOT NULL;
        END LOOP;
    END IF;

    IF v_result.run_id IS NOT NULL THEN  -- inserted, or (overwrite / claim_if_stale) updated: we hold the row
        IF p_annotating <> '{}' THEN  -- may change status: report the row as written
            PERFORM pgtrack._apply_annotating(v_result.run_id, p_annotating);
            RETURN pgtrack._registration(v_result.run_id, v_result.was_inserted, v_result.was_updated, false);
        END IF;
        RETURN v_result;
    END IF;

    -- A row with this key exists and was not taken. For claim_if_stale the unmet DO UPDATE ... WHERE
    -- left it locked by us, so it is still there to read.
    v_id := v_existing;
    IF v_id IS NULL THEN
        SELECT r.id INTO v_id FROM pgtrack.runs r WHERE r.experiment_id = p_experiment_id AND r.identity = v_identity;
    END IF;
    IF p_policy = 'raise' THEN
        PERFORM pgtrack._raise('PT001', format('duplicate run: run %s of experiment %s has identity %s', v_id, p_experiment_id, v_identity),
            'use on_duplicate => ''return_existing'', ''skip'', ''overwrite'' or ''claim_if_stale'' to reuse it');
    ELSIF p_policy = 'return_existing' THEN
        RETURN pgtrack._registration(v_id, false, false, false);
    ELSIF p_policy = 'skip' THEN
        RETURN ROW(NULL, NULL, NULL, NULL, false, false, true)::pgtrack.registration;
    END IF;
    RETURN pgtrack._registration(v_id, false, false, true);  -- claim_if_stale, not claimable
END
$$;
COMMENT ON FUNCTION pgtrack.register(bigint, jsonb, jsonb, text, interval) IS
$$Register a run by its identifying fields (normalised) with a required on_duplicate policy: raise (PT001 naming the existing run), return_existing, overwrite (writes the annotating fields), skip (run_id NULL, was_skipped), claim_if_stale (needs stale_after; never claims COMPLETED; live states only when time_updated is older than stale_after; a claim sets RUNNING, attempt+1, time_started/time_updated and the annotating fields). Atomic under concurrency: exactly one caller wins each insert or claim.$$;

CREATE FUNCTION pgtrack.find_run(experiment_id bigint, identifying jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Normalise first (PT002/PT003 for a bad experiment or key), then one index lookup. */
DECLARE
    v_identity jsonb := pgtrack.normalize_identity($1, $2);
BEGIN
    RETURN (SELECT r.id FROM pgtrack.runs r WHERE r.experiment_id = $1 AND r.identity = v_identity);
END
$$;
COMMENT ON FUNCTION pgtrack.find_run(bigint, jsonb) IS
$$The id of the run with these identifying values (normalised first), or NULL.$$;

-- ---- sql/90_privileges.sql
-- Privileges. Functions that alter the data tables run as the extension owner (SECURITY DEFINER), so
-- they are not for everyone: EXECUTE is revoked from PUBLIC and granted by the DBA, e.g.
--   GRANT EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text) TO ml_team;
-- Every other function runs with the caller's privileges on the tables (SECURITY INVOKER).
REVOKE EXECUTE ON FUNCTION pgtrack.setup() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.drop_metric(text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.rename_metric(text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack.add_run_column(text, regtype, boolean, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgtrack._regenerate_writers() FROM PUBLIC;
