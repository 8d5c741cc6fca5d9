-- register(): wallow's on_duplicate policies, each decided by one INSERT ... ON CONFLICT statement.

CREATE OR REPLACE FUNCTION pgtrack._live_statuses()
RETURNS pgtrack.runstatus[]
LANGUAGE sql
IMMUTABLE
AS $$
    /* States in which a run has a live holder: claimable only once its time_updated is stale. A
       constant of a qualified type, nothing looked up by name: no SET search_path, so it inlines. */
    SELECT '{RUNNING,CONFIGURING,COMPLETING,SIGNALING,STAGE_OUT,RESIZING,SUSPENDED}'::pgtrack.runstatus[]
$$;

CREATE OR REPLACE FUNCTION pgtrack._positive_interval(p_interval interval)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    /* True when every component (years, months, days, hours, minutes, seconds) is >= 0 and the
       interval is not zero. Comparing with interval '0' is not enough: it counts a month as 30 days,
       so '-1 month 30 days 1 second' passes as positive while now() minus it lies in the future in a
       31-day month. With no negative component, now() - p_interval < now() holds whatever the date. */
    SELECT p_interval IS NOT NULL AND p_interval > interval '0'
       AND extract(year FROM p_interval) >= 0 AND extract(month FROM p_interval) >= 0
       AND extract(day FROM p_interval) >= 0 AND extract(hour FROM p_interval) >= 0
       AND extract(minute FROM p_interval) >= 0 AND extract(second FROM p_interval) >= 0
$$;

CREATE OR REPLACE FUNCTION pgtrack._check_stale_after(p_stale_after interval, p_required text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* stale_after must be a positive interval wherever it is given, with no negative component
   (_positive_interval); p_required (the caller's name, e.g. 'claim_next') makes it mandatory. A
   zero, negative or mixed-sign interval could let any worker steal a run that is being heartbeated
   right now, so it is PT003, never "claim at once". */
BEGIN
    IF p_stale_after IS NULL AND p_required IS NOT NULL THEN
        PERFORM pgtrack._raise('PT003', format('%s requires stale_after', p_required),
            'pass stale_after => interval ''10 minutes'' (2-3x the longest gap between heartbeats)');
    END IF;
    IF p_stale_after IS NOT NULL AND NOT pgtrack._positive_interval(p_stale_after) THEN
        PERFORM pgtrack._raise('PT003', format('stale_after must be a positive interval with no negative part, got %s', p_stale_after),
            'pass stale_after => interval ''10 minutes'' (2-3x the longest gap between heartbeats)');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._annotating_values(p_annotating jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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

CREATE OR REPLACE FUNCTION pgtrack._apply_annotating(p_run_id bigint, p_experiment_id bigint, p_values jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Write annotating values (checked by _annotating_values) onto a run the caller holds: just
   inserted, or locked by its ON CONFLICT update. One UPDATE; jsonb_populate_record converts types. */
BEGIN
    EXECUTE format('UPDATE pgtrack.runs SET (%1$s) = (SELECT %1$s FROM jsonb_populate_record(NULL::pgtrack.runs, $1)) WHERE id = $2%2$s',
                   (SELECT string_agg(format('%I', k), ', ') FROM jsonb_object_keys(p_values) k),
                   CASE WHEN pgtrack._is_distributed() THEN ' AND experiment_id = $3' ELSE '' END)
      USING p_values, p_run_id, p_experiment_id;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._registration(p_run_id bigint, p_experiment_id bigint, p_inserted boolean,
                                                 p_updated boolean, p_skipped boolean)
RETURNS pgtrack.registration
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The registration row for a run as it is now. PL/pgSQL, not SQL: Citus cannot plan a query on a
   distributed table inside a SQL function with parameters (here and wherever pgtrack reads runs). */
DECLARE
    v_result pgtrack.registration;
    v_citus  boolean := pgtrack._is_distributed();
BEGIN
    SELECT r.id, r.uuid, r.status, r.attempt, p_inserted, p_updated, p_skipped INTO v_result
      FROM pgtrack.runs r WHERE r.id = p_run_id AND (NOT v_citus OR r.experiment_id = p_experiment_id);
    RETURN v_result;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack._register(experiment_id bigint, identifying jsonb, annotating jsonb,
                                              on_duplicate text, stale_after interval, request uuid)
RETURNS pgtrack.registration
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* register() and register_once() (once.sql): with a request, a run this request took already is
   returned as it was reported then, and the runs it inserts or claims record it (claim_request).
   One atomic decision per call, made by a single INSERT ... ON CONFLICT (no catch-and-retry):
   raise / return_existing / skip use DO NOTHING and then read the row that won; overwrite and
   claim_if_stale use DO UPDATE, whose WHERE is re-checked on the locked, latest row version, so
   under any number of concurrent callers exactly one wins each claim. RETURNING (xmax = 0) tells an
   insert from an update, and RETURNING fills the result without reading the row again. Staleness is judged by the database clock only. */
DECLARE
    p_experiment_id ALIAS FOR $1;
    p_annotating    jsonb := coalesce($3, '{}');
    p_policy        ALIAS FOR $4;
    p_stale_after   ALIAS FOR $5;
    p_request       ALIAS FOR $6;
    v_identity      jsonb;
    v_result        pgtrack.registration;  -- the run this call inserted or updated
    v_existing      bigint;                -- the run that already had this key
    v_id            bigint;
    v_looked        boolean;               -- this key was looked up already
    v_now           timestamptz := clock_timestamp();  -- values, not calls, in ON CONFLICT: Citus refuses volatile calls there
    v_stale_before  timestamptz := v_now - coalesce($5, interval '0');
BEGIN
    IF p_policy IS NULL OR p_policy NOT IN ('raise', 'return_existing', 'overwrite', 'skip', 'claim_if_stale') THEN
        PERFORM pgtrack._raise('PT003', format('invalid on_duplicate policy %s', coalesce(quote_literal(p_policy), 'NULL')),
            'on_duplicate is required: one of raise, return_existing, overwrite, skip, claim_if_stale');
    END IF;
    IF p_stale_after IS NOT NULL OR p_policy = 'claim_if_stale' THEN
        PERFORM pgtrack._check_stale_after(p_stale_after,
                                           CASE p_policy WHEN 'claim_if_stale' THEN 'on_duplicate => ''claim_if_stale''' END);
    END IF;
    IF p_annotating <> '{}' THEN
        p_annotating := pgtrack._annotating_values(p_annotating);
    END IF;
    -- A hit writes nothing: no registry lock, no transaction id, no commit to wait for. A key sent in
    -- canonical form (what the run stores, byte for byte: the usual case) is found before normalising:
    -- every stored identity is a fixed point of the current normalisation (changes of the fields
    -- re-normalise them under the exclusive lock), so that run is the one normalising would find. The
    -- text is compared too, since jsonb equality holds for 1.0 and 1 and an int field refuses 1.0.
    -- A run this very request inserted is not a hit: its reply was lost, and the replay below reports
    -- it as inserted (so a hit costs a request nothing more than this condition).
    IF p_policy <> 'claim_if_stale' AND p_policy <> 'overwrite' THEN
        SELECT r.id, r.uuid, r.status, r.attempt, false, false, false INTO v_result
          FROM pgtrack.runs r
         WHERE r.experiment_id = p_experiment_id AND r.identity = $2 AND r.identity::text = $2::text
           AND (p_request IS NULL OR r.claim_request IS DISTINCT FROM p_request);
        IF v_result.run_id IS NOT NULL AND p_policy = 'return_existing' THEN
            RETURN v_result;
        END IF;
        v_existing := v_result.run_id;
        v_result := NULL;
    END IF;
    -- Otherwise normalised, still without the lock. Every write below inserts into runs, whose trigger
    -- normalises again under the lock (_runs_normalize_identity): that identity is the one the unique
    -- key arbitrates.
    v_identity := CASE WHEN v_existing IS NULL THEN pgtrack._normalize_identity(p_experiment_id, $2, false) ELSE $2 END;
    -- About to write, with a request: the same request sent again (its reply was lost, not its work)
    -- gets the run it took. The request's calls are serialised first, so a retry that overlaps the
    -- first call waits for it and then finds its run (once.sql).
    IF v_existing IS NULL AND p_request IS NOT NULL THEN
        PERFORM pgtrack._lock_request(p_experiment_id, p_request);
        v_result := pgtrack._replayed(p_experiment_id, p_request, false);
        IF v_result.run_id IS NOT NULL THEN
            RETURN v_result;
        END IF;
    END IF;

    IF v_existing IS NOT NULL THEN
        NULL;  -- skip or raise, below
    ELSIF p_policy = 'claim_if_stale' THEN
        INSERT INTO pgtrack.runs AS r (experiment_id, identity, status, attempt, time_created, time_started, time_updated,
                                       claim_request)
        VALUES (p_experiment_id, v_identity, 'RUNNING', 1, v_now, v_now, v_now, p_request)
        ON CONFLICT ON CONSTRAINT runs_identity_key DO UPDATE
           SET status = 'RUNNING', attempt = r.attempt + 1, time_started = v_now,
               time_updated = v_now, time_finished = NULL, error = NULL, claim_request = p_request
         WHERE r.status <> 'COMPLETED' AND r.attempt < 1000000000
           AND (r.status <> ALL (pgtrack._live_statuses())
                OR pgtrack.last_seen(r.time_updated, r.time_started, r.time_created) < v_stale_before)
        RETURNING r.id, r.uuid, r.status, r.attempt, r.xmax = 0, r.xmax <> 0, false INTO v_result;
    ELSIF p_policy = 'overwrite' THEN
        INSERT INTO pgtrack.runs AS r (experiment_id, identity, time_updated, claim_request)
        VALUES (p_experiment_id, v_identity, v_now, p_request)
        ON CONFLICT ON CONSTRAINT runs_identity_key DO UPDATE SET time_updated = v_now
        RETURNING r.id, r.uuid, r.status, r.attempt, r.xmax = 0, r.xmax <> 0, false INTO v_result;
    ELSE
        -- Look first: a hit costs no sequence value and no dead tuple. A miss inserts; losing that
        -- race to a concurrent insert lands in the DO NOTHING branch and reads the winner below.
        -- The loop only repeats if the row that won was deleted before we could read it.
        v_looked := true;
        LOOP
            IF NOT v_looked OR v_identity::text <> $2::text THEN  -- (the first time, unless looked up above)
                SELECT r.id INTO v_existing FROM pgtrack.runs r WHERE r.experiment_id = p_experiment_id AND r.identity = v_identity;
                EXIT WHEN v_existing IS NOT NULL;
            END IF;
            v_looked := false;
            INSERT INTO pgtrack.runs AS r (experiment_id, identity, claim_request)
            VALUES (p_experiment_id, v_identity, p_request)
            ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING
            RETURNING r.id, r.uuid, r.status, r.attempt, true, false, false INTO v_result;
            EXIT WHEN v_result.run_id IS NOT NULL;
            -- Met an existing row. The trigger took the registry lock in this transaction, so no change
            -- of the identifying fields can commit before this ends, and the fields read now are the
            -- ones it normalised with (the first, unlocked, normalisation may have read older ones).
            v_identity := pgtrack._normalize_identity(p_experiment_id, $2, false);
        END LOOP;
    END IF;

    IF v_result.run_id IS NOT NULL THEN  -- inserted, or (overwrite / claim_if_stale) updated: we hold the row
        IF p_annotating <> '{}' THEN  -- may change status: report the row as written
            PERFORM pgtrack._apply_annotating(v_result.run_id, p_experiment_id, p_annotating);
            RETURN pgtrack._registration(v_result.run_id, p_experiment_id, v_result.was_inserted, v_result.was_updated, false);
        END IF;
        RETURN v_result;
    END IF;

    -- A row with this key exists and was not taken. For claim_if_stale the unmet DO UPDATE ... WHERE
    -- left it locked by us, so it is still there to read.
    v_id := v_existing;
    IF v_id IS NULL THEN
        v_identity := pgtrack._normalize_identity(p_experiment_id, $2, false);  -- as in the loop above
        SELECT r.id INTO v_id FROM pgtrack.runs r WHERE r.experiment_id = p_experiment_id AND r.identity = v_identity;
    END IF;
    IF p_policy = 'raise' THEN
        PERFORM pgtrack._raise('PT001', format('duplicate run: run %s of experiment %s has identity %s', v_id, p_experiment_id, v_identity),
            'use on_duplicate => ''return_existing'', ''skip'', ''overwrite'' or ''claim_if_stale'' to reuse it');
    ELSIF p_policy = 'return_existing' THEN
        RETURN pgtrack._registration(v_id, p_experiment_id, false, false, false);
    ELSIF p_policy = 'skip' THEN
        RETURN ROW(NULL, NULL, NULL, NULL, false, false, true)::pgtrack.registration;
    END IF;
    RETURN pgtrack._registration(v_id, p_experiment_id, false, false, true);  -- claim_if_stale, not claimable
END
$$;
COMMENT ON FUNCTION pgtrack._register(bigint, jsonb, jsonb, text, interval, uuid) IS
$$register() and register_once(): register a run by its identifying fields (normalised) with a required on_duplicate policy: raise (PT001 naming the existing run), return_existing, overwrite (writes the annotating fields), skip (run_id NULL, was_skipped), claim_if_stale (needs stale_after; never claims COMPLETED; live states only when time_updated is older than stale_after; a claim sets RUNNING, attempt+1, time_started/time_updated and the annotating fields). Atomic under concurrency: exactly one caller wins each insert or claim.$$;

CREATE OR REPLACE FUNCTION pgtrack.register(experiment_id bigint, identifying jsonb, annotating jsonb DEFAULT '{}',
                                            on_duplicate text DEFAULT NULL, stale_after interval DEFAULT NULL)
RETURNS pgtrack.registration
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgtrack._register($1, $2, $3, $4, $5, NULL::pg_catalog.uuid)
$$;
COMMENT ON FUNCTION pgtrack.register(bigint, jsonb, jsonb, text, interval) IS
$$Register a run by its identifying fields (normalised) with a required on_duplicate policy: raise (PT001 naming the existing run), return_existing, overwrite (writes the annotating fields), skip (run_id NULL, was_skipped), claim_if_stale (needs stale_after; never claims COMPLETED; live states only when time_updated is older than stale_after; a claim sets RUNNING, attempt+1, time_started/time_updated and the annotating fields). Atomic under concurrency: exactly one caller wins each insert or claim.$$;

CREATE OR REPLACE FUNCTION pgtrack.find_run(experiment_id bigint, identifying jsonb)
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
