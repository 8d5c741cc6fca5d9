-- Calls a client may send again after a lost reply.
--
-- A connection that breaks after the server committed but before the reply arrived (an ambiguous
-- commit) leaves the client not knowing whether its register/claim_next/create_run took a run. Sent
-- again as is, the call would take a second one: a second claim of the queue, a second run of one
-- configuration, or a registration reported as "existing" that nobody trains. The *_once forms take
-- a request (a uuid the client makes for each logical call, and sends again unchanged on a retry):
-- the run a request took records it (runs.claim_request), and the same request again returns that run,
-- as it was reported the first time, instead of taking another. A later claim of the run by another
-- request replaces it: the first request's hold is over then, and a retry of it is a new call.
-- The plain forms (register.sql, queue.sql, runs.sql) are the same functions with no request (SPEC §4,
-- signatures unchanged).

CREATE OR REPLACE FUNCTION pgtrack._lock_request(p_experiment_id bigint, p_request uuid)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    /* Serialises the calls of one request. A client that lost its connection while the server was
       still running the first call (a slow server, a lock wait) sends it again at once: without this
       both calls would look for the request's run before either committed, and both take one. The
       second now waits for the first to end, and then (a new statement, a new snapshot) finds its
       run. An advisory lock of the transaction, keyed by a hash of the request: a uuid the client drew
       at random and sent as a parameter, so no other role can know the key in time to hold it. */
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_request::pg_catalog.text, p_experiment_id))
$$;

CREATE OR REPLACE FUNCTION pgtrack._replayed(p_experiment_id bigint, p_request uuid, p_claim_next boolean)
RETURNS pgtrack.registration
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The registration of the run that request p_request took, as the first call reported it, or a row
   of NULLs. claim_next reports (false, true, false). register inserted the run when it was not
   started then (raise/return_existing/skip/overwrite insert PENDING runs) or, for claim_if_stale,
   when the insert stamped time_created and time_started with one value; otherwise it claimed it. */
DECLARE
    v_id       bigint;
    v_inserted boolean;
BEGIN
    SELECT r.id, r.time_started IS NULL OR r.time_started = r.time_created INTO v_id, v_inserted
      FROM pgtrack.runs r
     WHERE r.experiment_id = p_experiment_id AND r.claim_request = p_request;
    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;
    v_inserted := v_inserted AND NOT p_claim_next;
    RETURN pgtrack._registration(v_id, p_experiment_id, v_inserted, NOT v_inserted, false);
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.register_once(request uuid, experiment_id bigint, identifying jsonb,
                                                 annotating jsonb DEFAULT '{}', on_duplicate text DEFAULT NULL,
                                                 stale_after interval DEFAULT NULL)
RETURNS pgtrack.registration
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._register($2, $3, $4, $5, $6, $1)
$$;
COMMENT ON FUNCTION pgtrack.register_once(uuid, bigint, jsonb, jsonb, text, interval) IS
$$register() that may be sent again: the same request (a uuid the client makes per call) returns the run it inserted or claimed the first time, reported as then, instead of taking another (a retry after an ambiguous commit).$$;

CREATE OR REPLACE FUNCTION pgtrack.claim_next_once(request uuid, experiment_id bigint, stale_after interval,
                                                   worker text DEFAULT NULL, retry_failed boolean DEFAULT true)
RETURNS pgtrack.registration
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._claim_next($2, $3, $4, $5, $1)
$$;
COMMENT ON FUNCTION pgtrack.claim_next_once(uuid, bigint, interval, text, boolean) IS
$$claim_next() that may be sent again: the same request returns the run it claimed the first time (same attempt) while no later claim has taken it, instead of claiming a second one.$$;

CREATE OR REPLACE FUNCTION pgtrack.create_run_once(request uuid, experiment_id bigint,
                                                   status pgtrack.runstatus DEFAULT 'PENDING', comment text DEFAULT NULL,
                                                   tags text[] DEFAULT NULL, args jsonb DEFAULT NULL, env jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._create_run($2, NULL::pg_catalog.int8, $3, $4, $5, $6, $7, $1)
$$;
COMMENT ON FUNCTION pgtrack.create_run_once(uuid, bigint, pgtrack.runstatus, text, text[], jsonb, jsonb) IS
$$create_run() that may be sent again: the same request returns the run it created the first time instead of a second run.$$;
