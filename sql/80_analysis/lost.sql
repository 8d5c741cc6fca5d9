-- Lost runs: a run in a live status (RUNNING, ...) whose last sign of life is older than its lost
-- time has a dead holder: SIGKILL, a crashed node, a closed laptop. The lost time is three of the
-- run's heartbeat intervals when its holder promised heartbeats (runs.heartbeat_every, which track()
-- sets: 15 s by default, so about 45 s), or the experiment's lost_after if that is shorter; for a run
-- without heartbeats, the experiment's lost_after (default 10 minutes), since such a run may rightly
-- be silent between epochs. Derived when read, never stored: no background job, and the run comes
-- back to life by itself if its holder was only slow (its next heartbeat or metric row updates
-- time_updated).

CREATE OR REPLACE FUNCTION pgtrack.last_seen(time_updated timestamptz, time_started timestamptz,
                                             time_created timestamptz)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    /* A run's last sign of life, the one formula behind both judgements of silence: stale for a claim
       (register's claim_if_stale, claim_next) and lost for display (is_lost, runs_status). Every write
       by the run's holder (a metric row, a heartbeat, a status change) sets time_updated; a run
       started but not yet written to counts from its start, one never started from its creation.
       No SET search_path: it inlines into the queries that call it. */
    SELECT coalesce($1, $2, $3)
$$;
COMMENT ON FUNCTION pgtrack.last_seen(timestamptz, timestamptz, timestamptz) IS
$$A run's last sign of life: time_updated, else time_started, else time_created. Pass r.time_updated, r.time_started, r.time_created. Claims judge staleness and is_lost judges lost runs by it.$$;

CREATE OR REPLACE FUNCTION pgtrack.is_lost(status pgtrack.runstatus, last_seen timestamptz,
                                           lost_after interval DEFAULT interval '10 minutes')
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    /* Live status, and no sign of life (pgtrack.last_seen: time_updated, else time_started, else time_created)
       for longer than lost_after, judged by the database clock. No SET search_path (it runs once per
       run in runs_status and stays inlinable): every function and operator is qualified. */
    SELECT $1 OPERATOR(pg_catalog.=) ANY (pgtrack._live_statuses())
       AND coalesce($2, '-infinity'::pg_catalog.timestamptz)
           OPERATOR(pg_catalog.<) (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) coalesce($3, interval '10 minutes'))
$$;
COMMENT ON FUNCTION pgtrack.is_lost(pgtrack.runstatus, timestamptz, interval) IS
$$True when a run in a live status (RUNNING, CONFIGURING, COMPLETING, SIGNALING, STAGE_OUT, RESIZING, SUSPENDED) showed no sign of life for longer than lost_after (the database clock): its worker died. Pass pgtrack.last_seen(time_updated, time_started, time_created) and the experiment's lost_after; pgtrack.runs_status(experiment_id) does it for you.$$;

CREATE OR REPLACE FUNCTION pgtrack.lost_time(lost_after interval, heartbeat_every interval)
RETURNS interval
LANGUAGE sql
IMMUTABLE
AS $$
    /* How long a live run may be silent before it is lost: three of its heartbeat intervals when it
       has them, or lost_after if that is shorter (LEAST passes over a NULL). No SET search_path (it
       inlines into every runs query); the operator is qualified. */
    SELECT LEAST($1, $2 OPERATOR(pg_catalog.*) 3::pg_catalog.float8)  -- LEAST is syntax, no lookup
$$;
COMMENT ON FUNCTION pgtrack.lost_time(interval, interval) IS
$$How long a run in a live status may show no sign of life before it counts as lost: the shorter of the experiment's lost_after and three times the run's heartbeat_every (set by the Python client's track(); NULL for a run without heartbeats, which then gets lost_after). Pass e.lost_after and r.heartbeat_every to is_lost's third argument through it.$$;

CREATE OR REPLACE FUNCTION pgtrack.run_is_lost(status pgtrack.runstatus, time_updated timestamptz,
                                               time_started timestamptz, time_created timestamptz,
                                               heartbeat_every interval, lost_after interval)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    /* The one rule for a lost run, from its own columns and its experiment's lost_after: is_lost on
       last_seen and lost_time. Every query that shows or counts lost runs (runs_status,
       experiment_summary, the CLI, the dashboard) calls this; no SET search_path (it inlines, and on
       Citus it runs on the shards with the rows). */
    SELECT pgtrack.is_lost($1, pgtrack.last_seen($2, $3, $4), pgtrack.lost_time($6, $5))
$$;
COMMENT ON FUNCTION pgtrack.run_is_lost(pgtrack.runstatus, timestamptz, timestamptz, timestamptz, interval, interval) IS
$$True when the run is lost: pgtrack.is_lost of its last_seen and its lost_time. Pass r.status, r.time_updated, r.time_started, r.time_created, r.heartbeat_every and the experiment's e.lost_after.$$;

CREATE OR REPLACE FUNCTION pgtrack.shown_status(status pgtrack.runstatus, lost boolean)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    /* The status a listing shows: 'LOST' for a lost run, else the stored label. No SET search_path
       (it inlines); CASE WHEN with a boolean looks up no operator. */
    SELECT CASE WHEN $2 THEN 'LOST' ELSE $1::pg_catalog.text END
$$;
COMMENT ON FUNCTION pgtrack.shown_status(pgtrack.runstatus, boolean) IS
$$The status to show for a run: 'LOST' when lost (pgtrack.run_is_lost) is true, else the status label.$$;

CREATE OR REPLACE FUNCTION pgtrack._runs_status(p_experiment_id bigint)
RETURNS TABLE (run_id bigint, experiment_id bigint, status pgtrack.runstatus, lost boolean, shown_status text,
               last_seen timestamptz, silent_for interval)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* runs_status(): every run (of one experiment, or all): its stored status, whether it is lost, the
   status to show (LOST for a lost run, else the stored label), its last sign of life and how long ago
   that was. PL/pgSQL, not SQL: Citus cannot plan a query on a distributed table inside a SQL function
   with parameters (register.sql, _registration). On Citus a query that joins it with the tables is
   refused (it would run on the shards, where a function cannot query the cluster): such queries use
   is_lost() on the run's columns instead, as the CLI and the dashboard do. */
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT r.id, r.experiment_id, r.status, l.lost, pgtrack.shown_status(r.status, l.lost),
           l.seen, clock_timestamp() - l.seen
      FROM pgtrack.runs r
      JOIN pgtrack.experiments e ON e.id = r.experiment_id
     CROSS JOIN LATERAL (SELECT pgtrack.last_seen(r.time_updated, r.time_started, r.time_created) AS seen,
                                pgtrack.run_is_lost(r.status, r.time_updated, r.time_started, r.time_created,
                                                    r.heartbeat_every, e.lost_after) AS lost) l
     WHERE p_experiment_id IS NULL OR r.experiment_id = p_experiment_id;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.runs_status(experiment_id bigint DEFAULT NULL)
RETURNS TABLE (run_id bigint, experiment_id bigint, status pgtrack.runstatus, lost boolean, shown_status text,
               last_seen timestamptz, silent_for interval)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM pgtrack._runs_status($1)
$$;
COMMENT ON FUNCTION pgtrack.runs_status(bigint) IS
$$Every run of an experiment (NULL: of all experiments) with its stored status, lost (a live status but silent for longer than the experiment's lost_after), shown_status ('LOST' or the status label), last_seen and silent_for. Join it with pgtrack.runs on run_id.$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_set_lost_after(experiment_id bigint, lost_after interval)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* How long a run in a live status may stay silent before it shows as lost: positive, with no
   negative component (_positive_interval: a mixed-sign interval can point into the future). */
BEGIN
    PERFORM pgtrack._require_experiment($1);
    IF NOT coalesce(pgtrack._positive_interval($2), false) OR $2 > interval '100 years' THEN
        PERFORM pgtrack._raise('PT003', format('lost_after must be a positive interval (no negative part) of at most 100 years, got %s', coalesce(quote_literal($2::text), 'NULL')),
            'pass e.g. interval ''10 minutes'' (a few heartbeat intervals)');
    END IF;
    UPDATE pgtrack.experiments e SET lost_after = $2 WHERE e.id = $1;
END
$$;
COMMENT ON FUNCTION pgtrack.experiment_set_lost_after(bigint, interval) IS
$$Set how long a run of the experiment in a live status may show no sign of life before it counts as lost (default 10 minutes). A run whose holder heartbeats (runs.heartbeat_every, set by track()) is lost after three of its intervals if that is shorter. PT003 unless positive.$$;

CREATE OR REPLACE FUNCTION pgtrack.run_set_heartbeat(run_id bigint, every interval, attempt integer DEFAULT NULL,
                                                     experiment_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
/* Promise a heartbeat every `every` (NULL: none): the run then counts as lost after three silent
   intervals (lost_time). Fenced like a heartbeat (PT004 when attempt is no longer the run's). */
BEGIN
    IF $2 IS NOT NULL AND NOT (coalesce(pgtrack._positive_interval($2), false) AND $2 <= interval '1 day') THEN
        PERFORM pgtrack._raise('PT003', format('every must be a positive interval of at most 1 day, got %s', quote_literal($2::text)),
            'pass e.g. interval ''15 seconds'', or NULL for a run without heartbeats');
    END IF;
    UPDATE pgtrack.runs r SET heartbeat_every = $2
     WHERE r.id = $1 AND ($3 IS NULL OR r.attempt = $3) AND ($4 IS NULL OR r.experiment_id = $4);
    IF NOT FOUND THEN
        PERFORM pgtrack._lease_check_failed($1, $3, $4);
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.run_set_heartbeat(bigint, interval, integer, bigint) IS
$$Record that the run's holder heartbeats every `every` (NULL: no heartbeats), so the run shows as LOST after three silent intervals instead of waiting for the experiment's lost_after. The Python client's track() calls it. attempt and experiment_id as for heartbeat (PT004 when the lease is lost).$$;
