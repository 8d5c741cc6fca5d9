-- The work queue: enqueue identities as PENDING runs, hand them out with FOR UPDATE SKIP LOCKED.

CREATE OR REPLACE FUNCTION pgtrack.enqueue(experiment_id bigint, identities jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* One INSERT ... SELECT ... ON CONFLICT DO NOTHING: existing keys (and repeats inside the array) are
   skipped; returns how many runs are new. Invalid identities fail the whole call. */
DECLARE
    v_count      integer;
    v_identities jsonb[];
BEGIN
    PERFORM pgtrack._require_experiment($1);
    IF $2 IS NULL OR jsonb_typeof($2) <> 'array' THEN
        PERFORM pgtrack._raise('PT003', format('identities must be a JSON array, got %s', coalesce(left($2::text, 200), 'NULL')),
            'pass identities like ''[{"lr": 0.1}, {"lr": 0.01}]''::jsonb');
    END IF;
    IF jsonb_array_length($2) > 10000 OR pg_column_size($2) > 4194304 THEN  -- normalising takes ~180x the array
        PERFORM pgtrack._raise('PT003', format('enqueue takes at most 10000 identities and 4 MiB a call, got %s and %s bytes',
                                               jsonb_array_length($2), pg_column_size($2)),
            'split the identities into several enqueue calls (the Python client does this itself)');
    END IF;
    -- Normalised first, then inserted: on Citus the INSERT ... SELECT must not run a query of its own
    -- (the registry lock) while it writes.
    v_identities := ARRAY(SELECT pgtrack._normalize_identity($1, e.value, true)
                            FROM jsonb_array_elements($2) WITH ORDINALITY AS e(value, ord) ORDER BY e.ord);
    -- Counted from RETURNING: on Citus the row count of INSERT ... SELECT includes the skipped rows.
    WITH inserted AS (
        INSERT INTO pgtrack.runs AS r (experiment_id, identity)
        SELECT $1, i.identity FROM unnest(v_identities) WITH ORDINALITY AS i(identity, ord) ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING
        RETURNING 1)
    SELECT count(*) INTO v_count FROM inserted;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION pgtrack.enqueue(bigint, jsonb) IS
$$Register a JSON array of identities (at most 10,000 and 4 MiB a call) as PENDING runs in one statement, skipping existing ones; returns how many were new.$$;

CREATE OR REPLACE FUNCTION pgtrack._claim_next(experiment_id bigint, stale_after interval, worker text,
                                               retry_failed boolean, request uuid)
RETURNS pgtrack.registration
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- The live-status probe runs up to 7 times per call with the status as a variable: the plan cache
-- turned it generic within the first call, and a generic plan cannot know that one live status is
-- rare; with a big analyzed queue it filtered the whole queue per status (25 ms a claim, found by
-- make limits; test_plans.py pins it). Custom plans cost ~0.05 ms a statement.
SET plan_cache_mode = force_custom_plan
AS $$
/* claim_next() and claim_next_once() (once.sql): with a request, the run this request claimed already
   is returned again (its reply was lost), and a new claim records the request (claim_request).
   Hand out one claimable run, in three steps (oldest id first within the last two): live runs whose
   time_updated is older than stale_after (their worker died: they were started first, so they are
   recovered first, stale_after after the death rather than after the whole queue); then PENDING
   runs; then other non-live, non-COMPLETED runs (FAILED, CANCELLED, TIMEOUT, ...). The first step
   reads only the experiment's live runs (about one per worker). Each step is an index-ordered LIMIT 1 FOR UPDATE SKIP LOCKED, so N
   workers take different runs without waiting, and the row lock re-checks the condition on the
   latest row version: a run is never handed out twice while its holder heartbeats. Only registry
   runs (identity not NULL) are queue items; runs made by create_run belong to whoever created them
   (e.g. a Slurm job). The worker name is stored in runs.worker. NULL run_id when nothing is left.
   A run at the top attempt (10^9, only reachable by raw writes) is skipped, never overflowed.
   Query shape: experiment_id is bounded by a range (>= and <=) and rows are ordered by
   (experiment_id, id), not by id alone. With "= $1 ... ORDER BY id" the planner may walk the primary
   key in id order and filter past every other experiment's runs, expecting a match within a few
   rows (measured: 3 ms per claim at 30k runs); this shape can only be served in order by
   runs_experiment_status_idx (0.02 ms), with a custom or a generic plan. On Citus the shape is
   "experiment_id = $1" (FOR UPDATE needs equality on the distribution column; the worker's shard
   holds one experiment per hash value), so the three probes are run with EXECUTE and the layout's
   predicate (custom plans either way). */
DECLARE
    v_id     bigint;
    v_status pgtrack.runstatus;
    v_result pgtrack.registration;
    c_live   CONSTANT pgtrack.runstatus[] := pgtrack._live_statuses();
    v_now    timestamptz := clock_timestamp();  -- values, not calls, in the statements: Citus refuses volatile calls there
    v_citus  boolean := pgtrack._is_distributed();
    v_exp    text := CASE WHEN v_citus THEN 'r.experiment_id = $1' ELSE 'r.experiment_id >= $1 AND r.experiment_id <= $1' END;
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._check_stale_after($2, 'claim_next');
    IF $5 IS NOT NULL THEN
        PERFORM pgtrack._lock_request($1, $5);
        v_result := pgtrack._replayed($1, $5, true);
        IF v_result.run_id IS NOT NULL THEN
            RETURN v_result;
        END IF;
    END IF;
    -- One probe per live status, each an exact range of runs_experiment_status_idx: written as
    -- status = ANY (...) the planner, trusting statistics that may predate the experiment's runs,
    -- filtered the whole queue instead (test_plans.py pins this).
    FOREACH v_status IN ARRAY c_live LOOP
        EXECUTE format('SELECT r.id FROM pgtrack.runs r
         WHERE %s AND r.status = $2 AND r.identity IS NOT NULL
           AND pgtrack.last_seen(r.time_updated, r.time_started, r.time_created) < $3 AND r.attempt < 1000000000
         ORDER BY r.experiment_id, r.status, r.id LIMIT 1 FOR UPDATE SKIP LOCKED', v_exp)
          INTO v_id USING $1, v_status, v_now - $2;
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    IF v_id IS NULL THEN
        EXECUTE format('SELECT r.id FROM pgtrack.runs r
         WHERE %s AND r.status = ''PENDING'' AND r.identity IS NOT NULL AND r.attempt < 1000000000
         ORDER BY r.experiment_id, r.id LIMIT 1 FOR UPDATE SKIP LOCKED', v_exp)
          INTO v_id USING $1;
    END IF;
    IF v_id IS NULL AND coalesce($4, true) THEN
        EXECUTE format('SELECT r.id FROM pgtrack.runs r
         WHERE %s AND r.status <> ALL ($2) AND r.identity IS NOT NULL AND r.attempt < 1000000000
         ORDER BY r.experiment_id, r.id LIMIT 1 FOR UPDATE SKIP LOCKED', v_exp)
          INTO v_id USING $1, c_live || '{PENDING,COMPLETED}'::pgtrack.runstatus[];
    END IF;
    IF v_id IS NULL THEN
        RETURN ROW(NULL, NULL, NULL, NULL, false, false, false)::pgtrack.registration;
    END IF;
    UPDATE pgtrack.runs r
       SET status = 'RUNNING', attempt = r.attempt + 1, time_started = v_now,
           time_updated = v_now, time_finished = NULL, error = NULL, worker = $3, claim_request = $5
     WHERE r.id = v_id AND (NOT v_citus OR r.experiment_id = $1);
    RETURN pgtrack._registration(v_id, $1, false, true, false);
END
$$;
COMMENT ON FUNCTION pgtrack._claim_next(bigint, interval, text, boolean, uuid) IS
$$claim_next() and claim_next_once(): claim one run of the experiment for a worker (FOR UPDATE SKIP LOCKED): live runs stale for longer than stale_after first (a dead worker's run), then PENDING ones, then failed/cancelled ones (unless retry_failed => false: a sweep that must not loop over a configuration that keeps failing). Sets RUNNING, attempt+1 (the lease), time_started/time_updated and runs.worker. NULL run_id when nothing is left.$$;

CREATE OR REPLACE FUNCTION pgtrack.claim_next(experiment_id bigint, stale_after interval, worker text DEFAULT NULL,
                                              retry_failed boolean DEFAULT true)
RETURNS pgtrack.registration
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._claim_next($1, $2, $3, $4, NULL::pg_catalog.uuid)
$$;
COMMENT ON FUNCTION pgtrack.claim_next(bigint, interval, text, boolean) IS
$$Claim one run of the experiment for a worker (FOR UPDATE SKIP LOCKED): live runs stale for longer than stale_after first (a dead worker's run), then PENDING ones, then failed/cancelled ones (unless retry_failed => false: a sweep that must not loop over a configuration that keeps failing). Sets RUNNING, attempt+1 (the lease), time_started/time_updated and runs.worker. NULL run_id when nothing is left.$$;
