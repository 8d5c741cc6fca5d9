-- Raising pgtrack errors: one place that knows SQLSTATEs PT001..PT005 and always adds a hint.
--
-- Convention for every internal helper (names starting with _): no SET search_path. They are
-- SECURITY INVOKER, qualify every pgtrack name, and run under the search_path of the public function
-- that calls them (pinned to pg_catalog, pg_temp where that matters). A SET clause costs a GUC
-- save/restore per call, and register() makes about a dozen helper calls (bench/registry_bench.py).
-- SECURITY DEFINER functions always pin search_path.

CREATE OR REPLACE FUNCTION pgtrack._raise(p_code text, p_message text, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Raise an error with a pgtrack SQLSTATE (PT001 duplicate run, PT002 not found, PT003 validation,
   PT004 lease lost, PT005 schema change refused), a message naming the offending value and a hint
   saying what to do. Usable from any function with PERFORM. */
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message,
                          HINT = coalesce(p_hint, 'see the pgtrack SQL API reference (docs/sql-api.md)');
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._not_found(p_what text, p_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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

CREATE OR REPLACE FUNCTION pgtrack._require_experiment(p_experiment_id bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* PT002 unless the experiment exists. */
BEGIN
    PERFORM 1 FROM pgtrack.experiments WHERE id = p_experiment_id;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('experiment', p_experiment_id);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._require_object(p_value jsonb, p_what text)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Return p_value if it is NULL or a JSON object of at most 4 MiB, else raise PT003 (args, env,
   annotating: a backend needs tens of times a value's size to work on it, so one call must not
   bring an unbounded one; PostgreSQL itself parses a parameter of up to 1 GB before pgtrack sees it). */
BEGIN
    IF p_value IS NOT NULL AND jsonb_typeof(p_value) <> 'object' THEN
        PERFORM pgtrack._raise('PT003', format('%s must be a JSON object, got %s', p_what, left(p_value::text, 200)),
            format('pass %s as a JSON object such as ''{"lr": 0.1}''::jsonb', p_what));
    END IF;
    IF pg_column_size(p_value) > 4194304 THEN
        PERFORM pgtrack._raise('PT003', format('%s holds %s bytes; at most 4 MiB', p_what, pg_column_size(p_value)),
            format('keep %s to configuration-sized values; store large data as files and record their paths', p_what));
    END IF;
    RETURN p_value;
END
$$;
