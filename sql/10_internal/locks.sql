-- Serialising schema changes and running DDL with a clear error when a table is busy.

CREATE OR REPLACE FUNCTION pgtrack._lock_schema()
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

CREATE OR REPLACE FUNCTION pgtrack._execute_guarded(p_sql text)
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

CREATE OR REPLACE FUNCTION pgtrack._lock_registry(p_experiment_id bigint, p_exclusive boolean)
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
