-- Metric curves for plots and reports, downsampled in SQL so that a chart of hundreds of runs with
-- thousands of steps stays small.

CREATE OR REPLACE FUNCTION pgtrack._check_curve_call(p_experiment_id bigint, p_metric text, p_buckets integer)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* The arguments metric_curves and metric_envelope share: an experiment, a numeric metric, 1..100000 buckets. */
BEGIN
    PERFORM pgtrack._require_experiment(p_experiment_id);
    PERFORM pgtrack._numeric_metric(p_metric);
    IF p_buckets IS NULL OR p_buckets < 1 OR p_buckets > 100000 THEN
        PERFORM pgtrack._raise('PT003', format('buckets must be between 1 and 100000, got %s', coalesce(p_buckets::text, 'NULL')),
            'pass buckets => 200 (points per curve)');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtrack.metric_curves(experiment_id bigint, metric text, buckets integer DEFAULT 200,
                                                 run_ids bigint[] DEFAULT NULL)
RETURNS TABLE (run_id bigint, step bigint, value double precision)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* One point per run and step bucket: the experiment's step range (of the selected runs) is cut into
   `buckets` equal buckets and each run's values in a bucket are averaged (NaN and infinities left
   out), at the bucket's last step. Runs with fewer steps than buckets keep every point. run_ids
   limits the runs (NULL: all of the experiment). Ordered by run, then step. Each run's rows are read
   by a range scan of the metrics primary key (OFFSET 0 keeps the planner from turning that into a
   hash join over the whole table, which it prefers even when the experiment is a small part of it). */
BEGIN
    PERFORM pgtrack._check_curve_call($1, $2, $3);
    RETURN QUERY EXECUTE format($q$
        WITH points AS (
            SELECT r.id AS run_id, m.step, m.v
              FROM pgtrack.runs r
              CROSS JOIN LATERAL (SELECT m.step, m.%1$I::float8 AS v FROM pgtrack.metrics m
                                   WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id AND m.%1$I IS NOT NULL
                                     AND m.%1$I::float8 NOT IN ('NaN', 'Infinity', '-Infinity')
                                  OFFSET 0) m  -- a fence: per run, a range scan of the metrics primary key
             WHERE r.experiment_id = $1 AND ($3 IS NULL OR r.id = ANY ($3))),
        range AS (SELECT min(p.step) AS lo, max(p.step) + 1 AS hi FROM points p)
        SELECT p.run_id, max(p.step), avg(p.v)
          FROM points p, range
         GROUP BY p.run_id, width_bucket(p.step, range.lo, range.hi, $2)
         ORDER BY 1, 2$q$, $2)
    USING $1, $3, $4;
END
$$;
COMMENT ON FUNCTION pgtrack.metric_curves(bigint, text, integer, bigint[]) IS
$$Curves of a numeric metric for an experiment's runs (or run_ids), downsampled in SQL: the step range is cut into `buckets` equal buckets and each run's values in a bucket are averaged (non-finite values left out), reported at the bucket's last step. Returns run_id, step, value ordered by run and step.$$;

CREATE OR REPLACE FUNCTION pgtrack.metric_envelope(experiment_id bigint, metric text, buckets integer DEFAULT 200,
                                                   run_ids bigint[] DEFAULT NULL, axis text DEFAULT 'step')
RETURNS TABLE (run_id bigint, bucket integer, x double precision, mean double precision, lo double precision,
               hi double precision, points bigint)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
/* Like metric_curves, for charts that must not hide spikes: per run and bucket the mean, the minimum
   and the maximum (so a downsampled line keeps every bucket's extremes visible), the number of
   points, and the bucket's x: its first step, or its first progress with axis => 'progress'. Buckets cut
   the x range of the selected runs into equal parts, the same for every run, so curves of several
   runs (and their mean and spread) line up bucket by bucket. */
BEGIN
    PERFORM pgtrack._check_curve_call($1, $2, $3);
    IF $5 IS NULL OR $5 NOT IN ('step', 'progress') THEN
        PERFORM pgtrack._raise('PT003', format('axis must be step or progress, got %s', coalesce(quote_literal($5), 'NULL')),
            'pass axis => ''step'' or axis => ''progress''');
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH points AS (
            SELECT r.id AS run_id, m.x, m.v
              FROM pgtrack.runs r
              CROSS JOIN LATERAL (SELECT m.%2$s::float8 AS x, m.%1$I::float8 AS v FROM pgtrack.metrics m
                                   WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id AND m.%1$I IS NOT NULL
                                     AND m.%1$I::float8 NOT IN ('NaN', 'Infinity', '-Infinity')
                                  OFFSET 0) m  -- a fence: per run, a range scan of the metrics primary key
             WHERE r.experiment_id = $1 AND ($2 IS NULL OR r.id = ANY ($2))),
        range AS (SELECT min(p.x) AS lo, max(p.x) AS hi FROM points p),
        bucketed AS (
            SELECT p.run_id, p.x, p.v,
                   CASE WHEN range.hi = range.lo THEN 1 ELSE least(width_bucket(p.x, range.lo, range.hi, $3), $3) END AS b
              FROM points p, range)
        SELECT b.run_id, b.b, min(b.x), avg(b.v), min(b.v), max(b.v), count(*)
          FROM bucketed b
         GROUP BY b.run_id, b.b
         ORDER BY 1, 2$q$, $2, CASE $5 WHEN 'progress' THEN 'progress' ELSE 'step' END)
    USING $1, $4, $3;
END
$$;
COMMENT ON FUNCTION pgtrack.metric_envelope(bigint, text, integer, bigint[], text) IS
$$Downsampled curves that keep extremes: per run and bucket (the x range of the selected runs cut into `buckets` equal parts, the same for every run) the mean, min and max of a numeric metric, the count of points, and the bucket's first x (step, or progress with axis => 'progress'). Non-finite values are left out.$$;
