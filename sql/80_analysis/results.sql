-- Analysis in SQL: the best and final value of a metric per run, the last values of every metric of a
-- run, and a summary of an experiment's runs by status. All SECURITY INVOKER: they read what the
-- caller may read.

CREATE OR REPLACE FUNCTION pgtrack._numeric_metric(p_name text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* An existing metric column of a numeric type (PT003 otherwise), for functions that rank or plot it. */
BEGIN
    PERFORM pgtrack._existing_metric(p_name);
    IF (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid = pgtrack._column_type('metrics', p_name)) <> 'N' THEN
        PERFORM pgtrack._raise('PT003', format('metric %I is of type %s, not a number', p_name, pgtrack._column_type('metrics', p_name)),
            'rank and plot numeric metrics (double precision, real, integer, bigint, numeric)');
    END IF;
    RETURN p_name;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.best_runs(experiment_id bigint, metric text, direction text DEFAULT 'min')
RETURNS TABLE (run_id bigint, status pgtrack.runstatus, identity jsonb, best double precision, best_step bigint,
               best_progress double precision, final double precision, final_step bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Every run of the experiment that logged the metric, best first: its best value (minimum or maximum;
   NaN never counts), the step and progress where it occurred (the earliest on ties), and the last
   value logged (highest step, then progress). Runs that never logged it are left out. Plan: the
   experiment's runs through runs_identity_key (it leads with experiment_id), then per run a range
   scan of the metrics primary key (run_id, step, progress): no scan of other experiments' data. */
BEGIN
    PERFORM pgtrack._require_experiment($1);
    PERFORM pgtrack._numeric_metric($2);
    IF $3 IS NULL OR $3 NOT IN ('min', 'max') THEN
        PERFORM pgtrack._raise('PT003', format('direction must be min or max, got %s', coalesce(quote_literal($3), 'NULL')),
            'pass direction => ''min'' for losses, ''max'' for accuracies');
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT r.id, r.status, r.identity, b.v, b.step, b.progress, f.v, f.step
          FROM pgtrack.runs r
          CROSS JOIN LATERAL (SELECT m.%1$I::float8 AS v, m.step, m.progress FROM pgtrack.metrics m
                               WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id AND m.%1$I IS NOT NULL AND m.%1$I::float8 <> 'NaN'::float8
                               ORDER BY m.%1$I %2$s, m.step, m.progress LIMIT 1) b
          CROSS JOIN LATERAL (SELECT m.%1$I::float8 AS v, m.step FROM pgtrack.metrics m
                               WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id AND m.%1$I IS NOT NULL
                               ORDER BY m.step DESC, m.progress DESC LIMIT 1) f
         WHERE r.experiment_id = $1
         ORDER BY b.v %2$s, r.id$q$, $2, CASE $3 WHEN 'min' THEN 'ASC' ELSE 'DESC' END)
    USING $1;
END
$$;
COMMENT ON FUNCTION pgtrack.best_runs(bigint, text, text) IS
$$The runs of an experiment ranked by a numeric metric, best first (direction 'min' or 'max'; NaN never counts): run_id, status, identifying values, best value with its step and progress, and the final (last logged) value with its step. Runs without the metric are left out. Index-backed: per run a range scan of the metrics primary key.$$;

CREATE OR REPLACE FUNCTION pgtrack.final_metrics(run_id bigint)
RETURNS TABLE (metric text, value jsonb, step bigint, progress double precision)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The last non-null value of every metric the run logged, with the step and progress it was logged
   at. Values are jsonb (metrics have different types; NaN and infinities as strings); cast as needed:
   (value)::float8. One backward scan of the primary key per metric, stopping at the first value. */
DECLARE
    v_sql text;
BEGIN
    PERFORM 1 FROM pgtrack.runs r WHERE r.id = $1;
    IF NOT FOUND THEN
        PERFORM pgtrack._not_found('run', $1);
    END IF;
    SELECT string_agg(format(
        '(SELECT %1$L::text, to_jsonb(m.%2$I), m.step, m.progress FROM pgtrack.metrics m '
        'WHERE m.run_id = $1 AND m.%2$I IS NOT NULL ORDER BY m.step DESC, m.progress DESC LIMIT 1)', c.name, c.name),
        ' UNION ALL ' ORDER BY c.name)
      INTO v_sql FROM pgtrack.metric_columns() c;
    IF v_sql IS NOT NULL THEN
        RETURN QUERY EXECUTE v_sql USING $1;
    END IF;
END
$$;
COMMENT ON FUNCTION pgtrack.final_metrics(bigint) IS
$$The last non-null value of each metric of a run (by step, then progress): metric, value as jsonb (cast with (value)::float8), step, progress. PT002 for a missing run.$$;

CREATE OR REPLACE FUNCTION pgtrack.experiment_summary(experiment_id bigint)
RETURNS TABLE (status pgtrack.runstatus, runs bigint, mean_duration interval, min_duration interval,
               max_duration interval, last_heartbeat_age interval, oldest_heartbeat_age interval, lost bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The experiment's runs by status: how many, their durations (time_finished - time_started, for runs
   that have both), and how long ago the most recently and the least recently updated run of each
   status last showed a sign of life (pgtrack.last_seen). A live status with a large
   oldest_heartbeat_age is a worker that died; lost counts the runs of the status that are silent for
   longer than their lost time (pgtrack.run_is_lost). Reads the experiment's runs through
   runs_identity_key. */
BEGIN
    PERFORM pgtrack._require_experiment($1);
    RETURN QUERY
        SELECT r.status, count(*),
               avg(r.time_finished - r.time_started), min(r.time_finished - r.time_started), max(r.time_finished - r.time_started),
               clock_timestamp() - max(pgtrack.last_seen(r.time_updated, r.time_started, r.time_created)),
               clock_timestamp() - min(pgtrack.last_seen(r.time_updated, r.time_started, r.time_created)),
               count(*) FILTER (WHERE pgtrack.run_is_lost(r.status, r.time_updated, r.time_started, r.time_created, r.heartbeat_every, e.lost_after))
          FROM pgtrack.runs r
          JOIN pgtrack.experiments e ON e.id = r.experiment_id
         WHERE r.experiment_id = $1
         GROUP BY r.status
         ORDER BY r.status;
END
$$;
COMMENT ON FUNCTION pgtrack.experiment_summary(bigint) IS
$$An experiment's runs by status: count, mean/min/max duration (time_finished - time_started), and the age of the most recent and of the oldest sign of life (time_updated) in each status; a live status with an old heartbeat is a dead worker, and lost counts the runs silent for longer than the experiment's lost_after. PT002 for a missing experiment.$$;
