-- Locks. No advisory locks (except while the very first setup() creates pgtrack.meta): any role can
-- take any advisory lock key and so hang whoever waits for it. pgtrack locks its own tables and rows, through helpers that run as the owner, so a caller
-- needs no privilege for them and a role without one cannot take them.
--
-- Waiting is short by design: a schema change asks for its table lock in attempts of at most 100 ms
-- (lock_timeout per attempt), sleeping between attempts, so loggers queued behind a waiting ALTER are
-- held up for one attempt at most, never for the whole wait. The whole wait is bounded by the caller's
-- lock_timeout when it is set, else by the setting pgtrack.default_lock_wait, else by 10 seconds;
-- then PT005.

CREATE OR REPLACE FUNCTION pgtrack._lock_budget()
RETURNS interval
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* How long a schema change may wait for its locks in total: the session's lock_timeout if set,
       else pgtrack.default_lock_wait if set, else 10 seconds. current_setting shows lock_timeout with
       its unit ('0', '10ms', '2s', '1min'), which interval input reads; pg_settings would cost 1.7 ms,
       a view over every setting, and add_metric asks five times. */
    SELECT CASE WHEN s.timeout OPERATOR(pg_catalog.=) interval '0'
                THEN coalesce(NULLIF(pg_catalog.current_setting('pgtrack.default_lock_wait', true), '')::interval,
                              interval '10 seconds')
                ELSE s.timeout END
      FROM (SELECT pg_catalog.current_setting('lock_timeout')::interval AS timeout) s
$$;

CREATE OR REPLACE FUNCTION pgtrack._set_lock_timeout(p_value text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* lock_timeout for the rest of this transaction. On Citus the locks are taken on the workers, which
   only see a SET LOCAL statement that Citus propagates (citus.propagate_set_commands = local), never a
   set_config() call: without it, a bounded wait on the coordinator waited forever on a worker. */
BEGIN
    IF pgtrack._is_distributed() THEN
        PERFORM pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
        EXECUTE format('SET LOCAL lock_timeout = %L', p_value);
    ELSE
        PERFORM pg_catalog.set_config('lock_timeout', p_value, true);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._execute_guarded(p_sql text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Run one lock request or DDL statement (built with format('%I')) in attempts of at most 100 ms each,
   within _lock_budget(); PT005 when the budget is spent. The session's lock_timeout is restored. */
DECLARE
    v_saved    text := pg_catalog.current_setting('lock_timeout');
    v_deadline timestamptz := pg_catalog.clock_timestamp() + pgtrack._lock_budget();
    v_attempt  interval;
    v_pause    double precision := 0.01;
BEGIN
    LOOP
        v_attempt := least(interval '100 milliseconds', v_deadline - pg_catalog.clock_timestamp());
        PERFORM pgtrack._set_lock_timeout(greatest(1, extract(epoch FROM v_attempt) * 1000)::bigint::text);
        BEGIN
            EXECUTE p_sql;
            PERFORM pgtrack._set_lock_timeout(v_saved);
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            IF pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => v_pause) >= v_deadline THEN
                PERFORM pgtrack._set_lock_timeout(v_saved);
                PERFORM pgtrack._raise('PT005', format('timed out after %s waiting for a lock: %s', pgtrack._lock_budget(), p_sql),
                    'another transaction is using the table (a long-running logger or an open transaction); '
                    'retry when it has committed, or set a longer lock_timeout in this session');
            END IF;
        END;
        PERFORM pg_catalog.pg_sleep(v_pause);  -- let the loggers queued behind the failed attempt through
        v_pause := least(v_pause * 2, 0.2);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._lock_schema()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Serialises every change of the data tables' definitions (setup, migrate, add_metric, drop_metric,
   rename_metric, add_run_column): SHARE ROW EXCLUSIVE on pgtrack.meta, held to commit, so a waiter reads
   the committed catalog. Only schema changes take it; readers of meta (ACCESS SHARE) do not conflict. */
BEGIN
    PERFORM pgtrack._execute_guarded('LOCK TABLE pgtrack.meta IN SHARE ROW EXCLUSIVE MODE');
    PERFORM pgtrack._citus_ddl_settings();  -- on Citus: one connection per node for this transaction's DDL
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._lock_experiment_shared(p_experiment_id bigint)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
/* Registry lock, shared: FOR KEY SHARE on the experiment's row, taken by every identity write before
   it reads the identifying fields; returns the experiment's float_precision, NULL if there is no
   such experiment. The same lock the runs foreign key takes anyway, so concurrent registrations
   never wait for each other. Hot path: no SET search_path (a GUC save/restore per call); safe
   because the statement names every object and operator with its schema and calls no function.
   PL/pgSQL, not SQL: a SQL function called from PL/pgSQL is parsed and planned again in every
   transaction, a PL/pgSQL statement's plan is kept for the session.
   On Citus the lock is a row of pgtrack.experiment_locks instead (_lock_experiment_row). */
DECLARE
    v_precision pg_catalog.int4;
BEGIN
    SELECT e.float_precision INTO v_precision
      FROM pgtrack.experiments e WHERE e.id OPERATOR(pg_catalog.=) p_experiment_id FOR KEY SHARE;
    RETURN v_precision;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._lock_experiment_row(p_experiment_id bigint, p_mode text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Citus: lock the experiment's row of pgtrack.experiment_locks in p_mode ('FOR KEY SHARE' or
   'FOR UPDATE'), creating the row first for an experiment made after distribute() (or by raw SQL).
   Nothing for an experiment that does not exist (the caller reports it). As the caller, not the owner
   (pgtrack_writer and pgtrack_admin may lock and add these rows: 70_roles.sql): Citus refuses a
   transaction that writes a shard as one role (the owner of a SECURITY DEFINER function) and then
   reads its co-located shards as another. */
BEGIN
    IF p_mode = 'FOR UPDATE' THEN
        PERFORM 1 FROM pgtrack.experiment_locks l WHERE l.experiment_id = p_experiment_id FOR UPDATE;
    ELSE
        PERFORM 1 FROM pgtrack.experiment_locks l WHERE l.experiment_id = p_experiment_id FOR KEY SHARE;
    END IF;
    IF NOT FOUND AND EXISTS (SELECT 1 FROM pgtrack.experiments e WHERE e.id = p_experiment_id) THEN
        INSERT INTO pgtrack.experiment_locks (experiment_id) VALUES (p_experiment_id) ON CONFLICT DO NOTHING;
        PERFORM pgtrack._lock_experiment_row(p_experiment_id, p_mode);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._lock_experiment(p_experiment_id bigint, p_exclusive boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* The registry lock of an experiment, shared (identity writes) or exclusive (changes to its identifying
   fields and float_precision); returns its float_precision, NULL if there is no such experiment. On one
   server a row lock on the experiments row, taken as the owner (_lock_experiment_shared/_exclusive);
   on Citus a row lock on its pgtrack.experiment_locks row, taken as the caller (_lock_experiment_row). */
BEGIN
    IF NOT pgtrack._is_distributed() THEN
        IF p_exclusive THEN
            PERFORM pgtrack._lock_experiment_exclusive(p_experiment_id);
            RETURN (SELECT e.float_precision FROM pgtrack.experiments e WHERE e.id = p_experiment_id);
        END IF;
        RETURN pgtrack._lock_experiment_shared(p_experiment_id);
    END IF;
    IF p_exclusive THEN
        PERFORM pgtrack._execute_guarded(format('SELECT pgtrack._lock_experiment_row(%s, %L)', p_experiment_id, 'FOR UPDATE'));
    ELSE
        PERFORM pgtrack._lock_experiment_row(p_experiment_id, 'FOR KEY SHARE');
    END IF;
    RETURN (SELECT e.float_precision FROM pgtrack.experiments e WHERE e.id = p_experiment_id);
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._lock_experiment_exclusive(p_experiment_id bigint)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Registry lock, exclusive: FOR UPDATE on the experiment's row, taken by changes to its identifying
   fields and float_precision. Waits for registrations in flight to commit and blocks new ones (and new
   runs of the experiment) until this transaction ends. Bounded like every schema change wait. */
BEGIN
    PERFORM pgtrack._execute_guarded(format('SELECT FROM pgtrack.experiments WHERE id = %s FOR UPDATE', p_experiment_id));
END
$$;
