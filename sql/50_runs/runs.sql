-- Runs: creation (including explicit ids such as Slurm job ids), start/stop and scalar setters.
-- Parameter names are part of the API (named-argument calls), so bodies refer to them as $n.

CREATE OR REPLACE FUNCTION pgtrack._max_explicit_run_id()
RETURNS bigint
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* The largest id create_run accepts (2^53 - 1, exact in every JSON parser). The sequence moves past
       explicit ids, so an unbounded id (2^63 - 1) would use up the id space for everyone. */
    SELECT 9007199254740991::bigint
$$;

CREATE OR REPLACE FUNCTION pgtrack._reserve_run_id(p_run_id bigint)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* After inserting an explicit id, move the runs id sequence past it so it never hands that id out.
   Runs as the owner, so callers need no UPDATE privilege on the sequence, and serialised by a SHARE
   UPDATE EXCLUSIVE lock on pgtrack.runs (self-conflicting, but not with reads and writes of runs), so
   the sequence only ever moves forward: nextval() tells where it stands, setval() is called only when
   the id is ahead. Only an id that exists and is within the bound can move it. */
DECLARE
    v_seq text := pg_get_serial_sequence('pgtrack.runs', 'id');
BEGIN
    IF p_run_id > pgtrack._max_explicit_run_id() OR NOT EXISTS (SELECT 1 FROM pgtrack.runs r WHERE r.id = p_run_id) THEN
        RETURN;
    END IF;
    PERFORM pgtrack._execute_guarded('LOCK TABLE pgtrack.runs IN SHARE UPDATE EXCLUSIVE MODE');
    IF nextval(v_seq) < p_run_id THEN
        PERFORM setval(v_seq, p_run_id);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._create_run_with_id(p_id bigint, p_experiment_id bigint, p_status pgtrack.runstatus,
                                                       p_comment text, p_tags jsonb, p_args jsonb, p_env jsonb)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
/* Citus: create_run with an explicit id. runs is distributed by experiment_id, so no index can keep
   ids unique across experiments; writers and admins may not INSERT an id of their own there (their
   INSERT privilege leaves out column id, _role_grants), and this function, run as the owner and
   granted to pgtrack_writer and pgtrack_admin only, inserts one under a self-conflicting table lock,
   after checking that no experiment has it: two explicit-id creations are serialised, and an id of another
   experiment is PT003 as on one server. Only data goes in (the caller's values as parameters). */
DECLARE
    v_exp bigint;
BEGIN
    -- SHARE UPDATE EXCLUSIVE: conflicts with itself (two explicit ids at once), not with the reads and
    -- writes of runs; no advisory lock, which any role could take first and hold (docs/security.md, Locks).
    PERFORM pgtrack._execute_guarded('LOCK TABLE pgtrack.runs IN SHARE UPDATE EXCLUSIVE MODE');
    SELECT r.experiment_id INTO v_exp FROM pgtrack.runs r WHERE r.id = p_id;
    IF FOUND THEN
        IF v_exp <> p_experiment_id THEN
            PERFORM pgtrack._raise('PT003', format('run %s belongs to experiment %s, not %s', p_id, v_exp, p_experiment_id),
                'pass the run''s own experiment id, or another run_id');
        END IF;
        RETURN p_id;
    END IF;
    INSERT INTO pgtrack.runs AS r (id, experiment_id, status, comment, tags, args, env)
    VALUES (p_id, p_experiment_id, p_status, p_comment, p_tags, p_args, p_env);
    PERFORM pgtrack._reserve_run_id(p_id);
    RETURN p_id;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._create_run(experiment_id bigint, run_id bigint, status pgtrack.runstatus,
                                               comment text, tags text[], args jsonb, env jsonb, request uuid)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* create_run() and create_run_once() (once.sql). With a request (and no run_id): a run this request
   created already is returned again (the reply was lost), else the new run records it.
   Create a run (SQLTrack style, no dedup). With run_id: get or create exactly that id; the other
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
    IF $2 IS NULL AND $8 IS NOT NULL THEN
        PERFORM pgtrack._lock_request($1, $8);
        v_id := (pgtrack._replayed($1, $8, false)).run_id;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
    END IF;
    IF $2 IS NULL THEN
        LOOP  -- an id inserted explicitly by raw SQL is skipped rather than reported
            INSERT INTO pgtrack.runs AS r (experiment_id, status, comment, tags, args, env, claim_request)
            VALUES ($1, $3, $4, pgtrack._tags_object($5), $6, $7, $8)
            ON CONFLICT ON CONSTRAINT runs_pkey DO NOTHING
            RETURNING r.id INTO v_id;
            IF v_id IS NOT NULL THEN
                RETURN v_id;
            END IF;
        END LOOP;
    END IF;
    IF $2 <= 0 OR $2 > pgtrack._max_explicit_run_id() THEN
        PERFORM pgtrack._raise('PT003', format('run_id must be between 1 and %s, got %s', pgtrack._max_explicit_run_id(), $2),
            'pass a positive id such as a Slurm job id');
    END IF;
    IF pgtrack._is_distributed() THEN  -- no index keeps ids unique across shards: pgtrack does (below)
        RETURN pgtrack._create_run_with_id($2, $1, $3, $4, pgtrack._tags_object($5), $6, $7);
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
        ON CONFLICT ON CONSTRAINT runs_pkey DO NOTHING
        RETURNING r.id INTO v_id;
        IF v_id IS NOT NULL THEN
            PERFORM pgtrack._reserve_run_id(v_id);
            RETURN v_id;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgtrack._create_run(bigint, bigint, pgtrack.runstatus, text, text[], jsonb, jsonb, uuid) IS
$$create_run() and create_run_once(): create a run in an experiment and return its id. With run_id (e.g. a Slurm job id): get or create that exact id; the id sequence never later hands out an id that was inserted explicitly.$$;

CREATE OR REPLACE FUNCTION pgtrack.create_run(experiment_id bigint, run_id bigint DEFAULT NULL,
                                              status pgtrack.runstatus DEFAULT 'PENDING', comment text DEFAULT NULL,
                                              tags text[] DEFAULT NULL, args jsonb DEFAULT NULL, env jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._create_run($1, $2, $3, $4, $5, $6, $7, NULL::pg_catalog.uuid)
$$;
COMMENT ON FUNCTION pgtrack.create_run(bigint, bigint, pgtrack.runstatus, text, text[], jsonb, jsonb) IS
$$Create a run in an experiment and return its id. With run_id (e.g. a Slurm job id): get or create that exact id; the id sequence never later hands out an id that was inserted explicitly.$$;

CREATE OR REPLACE FUNCTION pgtrack.run_start(run_id bigint, started timestamptz DEFAULT clock_timestamp(),
                                             experiment_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* RUNNING; time_started = started, time_updated = now (the database clock: staleness, and so who may
   claim the run, is never judged by a time the client chose). time_finished and error of an earlier
   attempt are cleared so a restarted run does not show stale failure data. */
DECLARE
    v_now   timestamptz := clock_timestamp();  -- a value, not a call, in the UPDATE: Citus refuses volatile calls there
    v_citus boolean := pgtrack._is_distributed();  -- the run's experiment in the WHERE on Citus only (_is_distributed)
    v_exp   bigint := CASE WHEN v_citus THEN pgtrack._run_experiment($1, $3) ELSE $3 END;
    v_found bigint;
BEGIN
    UPDATE pgtrack.runs r
       SET status = 'RUNNING', time_started = $2, time_updated = v_now, time_finished = NULL, error = NULL
     WHERE r.id = $1 AND (NOT v_citus OR r.experiment_id = v_exp)
    RETURNING r.experiment_id INTO v_found;
    IF v_found IS NULL OR v_found <> coalesce($3, v_found) THEN  -- missing, or another experiment's (rolled back)
        PERFORM pgtrack._lease_check_failed($1, NULL, $3);
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.run_start(bigint, timestamptz, bigint) IS
$$Mark a run RUNNING: sets time_started (default: now) and time_updated (always the database clock), clears time_finished and error. experiment_id (optional): checked, and keeps the call on one shard on Citus.$$;

CREATE OR REPLACE FUNCTION pgtrack._lease_check_failed(p_run_id bigint, p_attempt integer, p_experiment_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Called when an UPDATE ... WHERE id = p_run_id [AND experiment_id = p_experiment_id] [AND attempt =
   p_attempt] matched nothing: PT002 if the run does not exist, PT003 if it belongs to another
   experiment, else PT004 (lease lost). */
DECLARE
    v_attempt    integer;
    v_experiment bigint;
BEGIN
    SELECT r.attempt, r.experiment_id INTO v_attempt, v_experiment FROM pgtrack.runs r WHERE r.id = p_run_id;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('run', p_run_id);
    END IF;
    IF p_experiment_id IS NOT NULL AND v_experiment <> p_experiment_id THEN
        PERFORM pgtrack._raise('PT003', format('run %s belongs to experiment %s, not %s', p_run_id, v_experiment, p_experiment_id),
            'pass the run''s own experiment id (or none)');
    END IF;
    IF p_attempt IS NULL THEN
        RETURN;  -- the row changed under us (deleted and made again): nothing to report
    END IF;
    PERFORM pgtrack._raise('PT004',
        format('lease lost: run %s is at attempt %s, not %s', p_run_id, v_attempt, p_attempt),
        'another worker claimed this run after it went stale; stop working on it and do not write results');
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.run_stop(run_id bigint, status pgtrack.runstatus DEFAULT 'COMPLETED',
                                 error text DEFAULT NULL, attempt integer DEFAULT NULL, experiment_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Final status; time_finished = time_updated = now. With attempt: PT004 unless it is still the run's
   current attempt (a worker whose run was re-claimed must not overwrite the new holder's status). */
DECLARE
    v_now   timestamptz := clock_timestamp();
    v_citus boolean := pgtrack._is_distributed();  -- the run's experiment in the WHERE on Citus only (_is_distributed)
    v_exp   bigint := CASE WHEN v_citus THEN pgtrack._run_experiment($1, $5) ELSE $5 END;
    v_found bigint;
BEGIN
    IF $2 IS NULL THEN
        PERFORM pgtrack._raise('PT003', 'status must not be NULL', 'omit status for COMPLETED, or pass a pgtrack.runstatus');
    END IF;
    UPDATE pgtrack.runs r
       SET status = $2, time_finished = v_now, time_updated = v_now, error = $3
     WHERE r.id = $1 AND (NOT v_citus OR r.experiment_id = v_exp) AND ($4 IS NULL OR r.attempt = $4)
    RETURNING r.experiment_id INTO v_found;
    IF v_found IS NULL OR v_found <> coalesce($5, v_found) THEN
        PERFORM pgtrack._lease_check_failed($1, $4, $5);
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.run_stop(bigint, pgtrack.runstatus, text, integer, bigint) IS
$$Stop a run: status (default COMPLETED), time_finished, time_updated and error. With attempt, PT004 if the run was claimed by a newer attempt. experiment_id (optional): checked, and keeps the call on one shard on Citus.$$;

CREATE OR REPLACE FUNCTION pgtrack.heartbeat(run_id bigint, attempt integer DEFAULT NULL, experiment_id bigint DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Liveness: time_updated = now (the database clock). With attempt: PT004 when it is no longer the
   run's current attempt, so a worker presumed dead learns that it lost the run. Like the metric
   writers, it updates the row at most once per transaction (a heartbeat is invisible to others until
   commit anyway, and repeated updates of one row in one transaction make each slower); later calls
   in the same transaction return the time of the first. */
DECLARE
    v_at         timestamptz;
    v_experiment bigint;
    v_citus      boolean := pgtrack._is_distributed();  -- the run's experiment in the WHERE on Citus only (_is_distributed)
    v_exp        bigint := CASE WHEN v_citus THEN pgtrack._run_experiment($1, $3) ELSE $3 END;
BEGIN
    IF current_setting('pgtrack.touched_run', true) IS NOT DISTINCT FROM $1::text THEN
        SELECT r.time_updated, r.experiment_id INTO v_at, v_experiment FROM pgtrack.runs r
         WHERE r.id = $1 AND (NOT v_citus OR r.experiment_id = v_exp) AND ($2 IS NULL OR r.attempt = $2);
        IF v_experiment IS NULL OR v_experiment <> coalesce($3, v_experiment) THEN
            PERFORM pgtrack._lease_check_failed($1, $2, $3);
        END IF;
        RETURN v_at;
    END IF;
    v_at := clock_timestamp();
    UPDATE pgtrack.runs r SET time_updated = v_at
     WHERE r.id = $1 AND (NOT v_citus OR r.experiment_id = v_exp) AND ($2 IS NULL OR r.attempt = $2)
    RETURNING r.time_updated, r.experiment_id INTO v_at, v_experiment;
    IF v_experiment IS NULL OR v_experiment <> coalesce($3, v_experiment) THEN
        PERFORM pgtrack._lease_check_failed($1, $2, $3);
    END IF;
    PERFORM set_config('pgtrack.touched_run', $1::text, true);
    PERFORM set_config('pgtrack.touched_experiment', v_experiment::text, true);  -- for the metric writers
    RETURN v_at;
END
$$;
COMMENT ON FUNCTION pgtrack.heartbeat(bigint, integer, bigint) IS
$$Set a run's time_updated to now and return it; PT002 if the run does not exist; PT004 (lease lost) if attempt is given and is not the run's current attempt. experiment_id (optional): checked, and keeps the call on one shard on Citus.$$;
