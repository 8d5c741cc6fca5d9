-- Logging metrics: public entry points over the generated writers (writers.sql, beside this file).
--
-- Hot path: these functions (and the generated writers) have no SET search_path: a SET clause costs
-- a GUC save/restore on every call, measured at ~0.3x of a hand-written statement's time
-- (bench/metrics_bench.py). Instead every function, aggregate and operator in them is qualified
-- (pg_catalog.jsonb_typeof, OPERATOR(pg_catalog.=)), and no construct that looks an operator up by
-- name is used (CASE x WHEN, IS DISTINCT FROM, NULLIF, IN): a caller's search_path that puts a
-- writable schema first could otherwise resolve an exact-signature shadow of a polymorphic or "any"
-- built-in (count(record), format(text, ...)) in place of pg_catalog's, running its owner's code
-- with the caller's rights. tests/python/security/test_search_path.py plants such shadows and drives every
-- writer path. Every other pgtrack function pins search_path = pg_catalog, pg_temp.

CREATE OR REPLACE FUNCTION pgtrack._check_metric_call(p_run_id bigint, p_payload jsonb, p_kind text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
AS $$
/* Argument checks shared by run_add_metrics (p_kind 'object') and run_add_metrics_batch ('array'). */
BEGIN
    IF p_run_id IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'run_id must not be NULL', 'pass the id returned by pgtrack.create_run()');
    END IF;
    IF p_payload IS NULL OR pg_catalog.jsonb_typeof(p_payload) OPERATOR(pg_catalog.<>) p_kind THEN
        PERFORM pgtrack._bad_metric_payload(p_payload, p_kind);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._bad_metric_payload(p_payload jsonb, p_kind text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 for metrics that are not a JSON object (run_add_metrics) or array (run_add_metrics_batch). */
BEGIN
    PERFORM pgtrack._raise('PT003',
        format('metrics must be a JSON %s, got %s', p_kind, coalesce(left(p_payload::text, 200), 'NULL')),
        CASE p_kind WHEN 'object' THEN 'pass metrics like ''{"loss": 0.25, "acc": 0.9}''::jsonb'
                    ELSE 'pass rows like ''[{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]''::jsonb' END);
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._bad_metric_value(p_run_id bigint, p_message text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 for a metric value that does not fit its column's type. */
BEGIN
    PERFORM pgtrack._raise('PT003', format('invalid metric value for run %s: %s', p_run_id, p_message),
        'check the column types with SELECT * FROM pgtrack.metric_columns(); float columns also take "NaN", "Infinity", "-Infinity"');
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._batch_keys(p_rows jsonb)
RETURNS text[]
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* Every key of the batch's object rows (for add_missing). */
    SELECT array_agg(DISTINCT k) FROM jsonb_array_elements(p_rows) r(v), jsonb_object_keys(r.v) k
     WHERE jsonb_typeof(r.v) = 'object'
$$;

CREATE OR REPLACE FUNCTION pgtrack._add_missing_metrics(p_names text[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* The writers' add_missing: a column (double precision) for each of p_names that has none, through
   add_metric (serialised on the schema lock, so concurrent first uses of one name add it once). A
   caller who may not change the schema (pgtrack_writer) gets PT005 naming the missing metrics and the
   admin's call. Only reached when a caller asks for it, so the catalog read is off the hot path. */
DECLARE
    v_missing text[];
    v_name    text;
BEGIN
    SELECT array_agg(DISTINCT n ORDER BY n) INTO v_missing
      FROM unnest(p_names) n
     WHERE n NOT IN ('step', 'progress') AND pgtrack._column_type('metrics', n) IS NULL;
    IF v_missing IS NULL THEN
        RETURN;
    END IF;
    FOREACH v_name IN ARRAY v_missing LOOP
        PERFORM pgtrack._validate_metric_name(v_name, pgtrack._builtin_columns('metrics'));
    END LOOP;
    IF NOT pg_catalog.has_function_privilege('pgtrack.add_metric(text, regtype, text)', 'EXECUTE') THEN
        PERFORM pgtrack._raise('PT005',
            format('metric%s %s %s no column, and role %I may not add metrics',
                   CASE WHEN cardinality(v_missing) > 1 THEN 's' ELSE '' END,
                   array_to_string(ARRAY(SELECT quote_ident(m) FROM unnest(v_missing) m), ', '),
                   CASE WHEN cardinality(v_missing) > 1 THEN 'have' ELSE 'has' END, current_user),
            format('an admin (the owner or a member of pgtrack_admin) adds it: SELECT pgtrack.add_metric(%L);', v_missing[1]));
    END IF;
    FOREACH v_name IN ARRAY v_missing LOOP
        PERFORM pgtrack.add_metric(v_name);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.run_add_metrics(run_id bigint, step bigint DEFAULT 0, progress double precision DEFAULT 0,
                                        metrics jsonb DEFAULT '{}', set_updated boolean DEFAULT true,
                                        attempt integer DEFAULT NULL, add_missing boolean DEFAULT false,
                                        experiment_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
/* Upsert one metrics row keyed by (run_id, step, progress). Only the given keys are written, so
   several calls for one step merge; a JSON null leaves the stored value alone. With attempt: PT004
   (nothing written) unless it is the run's current attempt. With add_missing: names without a column
   get one (double precision) first, if the caller may add metrics. With experiment_id (the run's):
   checked (PT003 if the run belongs to another), and on Citus the call stays on one shard. */
BEGIN
    IF $1 IS NULL OR $4 IS NULL OR pg_catalog.jsonb_typeof($4) OPERATOR(pg_catalog.<>) 'object' THEN
        PERFORM pgtrack._check_metric_call($1, $4, 'object');  -- checked inline: a call costs a query
    END IF;
    IF $7 THEN
        PERFORM pgtrack._add_missing_metrics(ARRAY(SELECT pg_catalog.jsonb_object_keys($4)));
    END IF;
    IF $2 IS NULL OR $3 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'step and progress must not be NULL', 'omit them for 0');
    END IF;
    PERFORM pgtrack._metrics_write($1, $2, $3, $4, coalesce($5, true), $6, $8);
EXCEPTION WHEN data_exception THEN
    PERFORM pgtrack._bad_metric_value($1, SQLERRM);
END
$$;
COMMENT ON FUNCTION pgtrack.run_add_metrics(bigint, bigint, double precision, jsonb, boolean, integer, boolean, bigint) IS
$$Log metrics for a run at (step, progress): an upsert that writes only the given keys, so calls for the same step merge. Unknown metric names: PT003 listing them and how to add them. Float columns accept "NaN", "Infinity", "-Infinity". An empty object still records the row. set_updated also sets runs.time_updated. With attempt (as returned by register/claim_next), PT004 lease lost and nothing written unless it is still the run's current attempt. With add_missing => true, a metric name that has no column gets one (double precision) first, when the caller may add metrics (the owner, pgtrack_admin); otherwise PT005 naming the add_metric call an admin must make. experiment_id (optional, the run's experiment): checked, PT003 if the run belongs to another; on Citus it keeps the call on one shard (docs/scale.md).$$;

CREATE OR REPLACE FUNCTION pgtrack._batch_limit(p_rows jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT003 for a run_add_metrics_batch call over its limits (10,000 rows, 4 MiB of jsonb). */
BEGIN
    PERFORM pgtrack._raise('PT003',
        format('a metrics batch holds at most 10000 rows and 4 MiB, got %s rows and %s bytes',
               jsonb_array_length(p_rows), pg_column_size(p_rows)),
        'split the rows into several run_add_metrics_batch calls (the Python client does this itself)');
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.run_add_metrics_batch(run_id bigint, rows jsonb, set_updated boolean DEFAULT true,
                                                         attempt integer DEFAULT NULL, add_missing boolean DEFAULT false,
                                                         experiment_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
/* Many rows in one INSERT statement, all or nothing. Each element of rows is an object with optional
   step, progress and metric keys; rows sharing (step, progress) are merged, later rows winning.
   At most 10,000 rows and 4 MiB of jsonb a call (_batch_limit): the backend needs about 28 times
   the batch's size while it works, so an unbounded batch (100 MB: 2.9 GB) could take the server's
   memory; clients split larger batches (the Python client does). Both checks are O(1) on jsonb. */
BEGIN
    IF $1 IS NULL OR $2 IS NULL OR pg_catalog.jsonb_typeof($2) OPERATOR(pg_catalog.<>) 'array' THEN
        PERFORM pgtrack._check_metric_call($1, $2, 'array');
    END IF;
    IF pg_catalog.jsonb_array_length($2) OPERATOR(pg_catalog.>) 10000 OR pg_catalog.pg_column_size($2) OPERATOR(pg_catalog.>) 4194304 THEN
        PERFORM pgtrack._batch_limit($2);
    END IF;
    IF $5 THEN
        PERFORM pgtrack._add_missing_metrics(pgtrack._batch_keys($2));
    END IF;
    RETURN pgtrack._metrics_batch_guarded($1, $2, coalesce($3, true), $4, $6, false);
END
$$;
CREATE OR REPLACE FUNCTION pgtrack._metrics_batch_guarded(p_run_id bigint, p_rows jsonb, p_set_updated boolean,
                                                        p_attempt integer, p_experiment_id bigint, p_merge boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* The batch writer in a subtransaction: a value that does not fit its column is PT003; a batch that
   went in as plain inserts (or as an upsert) and met a (step, progress) twice, in the batch or from a
   concurrent raw INSERT, is written again with p_merge, which merges such rows first. */
BEGIN
    RETURN pgtrack._metrics_write_batch(p_run_id, p_rows, p_set_updated, p_attempt, p_experiment_id, p_merge);
EXCEPTION
    WHEN data_exception THEN
        PERFORM pgtrack._bad_metric_value(p_run_id, SQLERRM);
        RETURN NULL;
    WHEN unique_violation OR cardinality_violation THEN
        IF p_merge THEN
            RAISE;
        END IF;
        RETURN pgtrack._metrics_batch_guarded(p_run_id, p_rows, p_set_updated, p_attempt, p_experiment_id, true);
END
$$;

COMMENT ON FUNCTION pgtrack.run_add_metrics_batch(bigint, jsonb, boolean, integer, boolean, bigint) IS
$$Log many metric rows for a run in one statement (all or nothing): rows is a JSON array of objects with optional step, progress and metric keys, at most 10,000 rows and 4 MiB a call (PT003 beyond). Same rules as run_add_metrics, attempt, add_missing and experiment_id included. Returns the number of (step, progress) rows written.$$;

CREATE OR REPLACE FUNCTION pgtrack.run_count_rejected(run_id bigint, rows integer, attempt integer DEFAULT NULL,
                                                      experiment_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Add rows to the run's metric_rows_rejected: metric rows a client had buffered that the server
   refused when they were flushed (the rest of the flush was stored). Fenced like a metric write: PT004
   if attempt is given and is not the run's current one. Returns the run's new count. */
DECLARE
    v_count bigint;
BEGIN
    IF $2 IS NULL OR $2 < 0 THEN
        PERFORM pgtrack._raise('PT003', format('rows must be a count of at least 0, got %s', coalesce($2::text, 'NULL')),
            'pass the number of metric rows the server refused');
    END IF;
    UPDATE pgtrack.runs r SET metric_rows_rejected = r.metric_rows_rejected + $2
     WHERE r.id = $1 AND ($3 IS NULL OR r.attempt = $3) AND ($4 IS NULL OR r.experiment_id = $4)
    RETURNING r.metric_rows_rejected INTO v_count;
    IF NOT FOUND THEN
        PERFORM pgtrack._lease_check_failed($1, $3, $4);
    END IF;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION pgtrack.run_count_rejected(bigint, integer, integer, bigint) IS
$$Count metric rows of a run that the server refused at a buffered flush (the rest of the flush was stored): adds rows to runs.metric_rows_rejected and returns the new count. attempt and experiment_id as for run_add_metrics (PT004 when the lease is lost).$$;
