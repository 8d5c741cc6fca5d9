"""Scenario 4: analysis at scale, wide metric columns (pgtrack, SQLTrack's claim) against the narrow
one-row-per-value layout of MLflow's metrics table, in the same database. And scenario 5, second half:
the best-run query at 1x, 10x and 100x of a base size.

Data: experiments x runs x steps x 10 metrics; identity {lr, depth, seed} with 5 seeds per config.
Default 10 x 20 x 200 (400,000 values); PGTRACK_BENCH_FULL=1: 100 x 100 x 1,000 (10 million).
Wide rows go in through run_add_metrics_batch, narrow rows through COPY (its fastest path).
"""
from __future__ import annotations

import os
import time

import psycopg

import pgtrack
from peers import median, new_database, scaled

METRICS = ["train_loss", "val_loss", "train_acc", "val_acc", "lr_now", "grad_norm", "epoch_time", "mem_gb", "tokens", "wd"]
NARROW = """CREATE TABLE bench_narrow (  -- MLflow's metrics table
    run_uuid varchar(32) NOT NULL, key varchar(250) NOT NULL, value double precision NOT NULL,
    timestamp bigint NOT NULL, step bigint NOT NULL DEFAULT 0, is_nan boolean NOT NULL DEFAULT false,
    PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan))"""
QUERIES = {
    "best run per experiment by min val_loss, with its final train_loss": (
        """WITH best AS (SELECT run_id, min(val_loss) AS v FROM pgtrack.metrics WHERE val_loss IS NOT NULL GROUP BY run_id),
                final AS (SELECT DISTINCT ON (run_id) run_id, train_loss FROM pgtrack.metrics
                           WHERE train_loss IS NOT NULL ORDER BY run_id, step DESC)
           SELECT DISTINCT ON (r.experiment_id) r.experiment_id, r.id, best.v, final.train_loss
             FROM pgtrack.runs r JOIN best ON best.run_id = r.id JOIN final ON final.run_id = r.id
            ORDER BY r.experiment_id, best.v""",
        """WITH best AS (SELECT run_uuid, min(value) AS v FROM bench_narrow WHERE key = 'val_loss' GROUP BY run_uuid),
                final AS (SELECT DISTINCT ON (run_uuid) run_uuid, value FROM bench_narrow
                           WHERE key = 'train_loss' ORDER BY run_uuid, step DESC)
           SELECT DISTINCT ON (r.experiment_id) r.experiment_id, r.id, best.v, final.value
             FROM pgtrack.runs r JOIN best ON best.run_uuid = r.id::text JOIN final ON final.run_uuid = r.id::text
            ORDER BY r.experiment_id, best.v"""),
    "mean and std of final val_loss across seeds per config": (
        """WITH final AS (SELECT DISTINCT ON (run_id) run_id, val_loss FROM pgtrack.metrics
                           WHERE val_loss IS NOT NULL ORDER BY run_id, step DESC)
           SELECT r.experiment_id, r.identity - 'seed' AS config, avg(final.val_loss), stddev(final.val_loss)
             FROM pgtrack.runs r JOIN final ON final.run_id = r.id GROUP BY 1, 2""",
        """WITH final AS (SELECT DISTINCT ON (run_uuid) run_uuid, value FROM bench_narrow
                           WHERE key = 'val_loss' ORDER BY run_uuid, step DESC)
           SELECT r.experiment_id, r.identity - 'seed' AS config, avg(final.value), stddev(final.value)
             FROM pgtrack.runs r JOIN final ON final.run_uuid = r.id::text GROUP BY 1, 2"""),
}


def value(metric: int, run: int, step: int) -> float:
    return (metric + 1) / (step + 1) + (run % 13) * 1e-3


def load(client: pgtrack.Client, conn: psycopg.Connection, experiments: int, runs: int, steps: int, narrow: bool):
    """Returns (seconds for the wide load, seconds for the narrow load)."""
    wide_s = narrow_s = 0.0
    for e in range(experiments):
        exp = pgtrack.Experiment(client, name=f"analysis-{e}-{client.value('SELECT count(*) FROM pgtrack.experiments')}")
        exp.declare_identifying("lr", "float")
        exp.declare_identifying("depth", "int")
        exp.declare_identifying("seed", "int")
        exp.enqueue({"lr": 10 ** -(1 + (i // 5) % 4), "depth": 2 + (i // 20), "seed": i % 5} for i in range(runs))
        run_ids = [r[0] for r in client.execute("SELECT id FROM pgtrack.runs WHERE experiment_id = %s ORDER BY id", (exp.id,))]
        for run_id in run_ids:
            rows = [{"step": s, **{m: value(i, run_id, s) for i, m in enumerate(METRICS)}} for s in range(steps)]
            start = time.perf_counter()
            for first in range(0, steps, 1000):
                client.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s::jsonb)",
                               (run_id, pgtrack._jsonvalues.to_json(rows[first:first + 1000])))
            wide_s += time.perf_counter() - start
            if narrow:
                start = time.perf_counter()
                with conn.cursor().copy("COPY bench_narrow (run_uuid, key, value, timestamp, step) FROM STDIN") as cp:
                    for s in range(steps):
                        for i, m in enumerate(METRICS):
                            cp.write_row((str(run_id), m, value(i, run_id, s), 1_700_000_000_000 + s, s))
                narrow_s += time.perf_counter() - start
    return wide_s, narrow_s


def run(results) -> None:
    full = os.environ.get("PGTRACK_BENCH_FULL") == "1"
    experiments, runs, steps = (100, 100, 1000) if full else (scaled(10, 2), scaled(20, 5), scaled(200, 20))
    db = new_database("b_analysis")
    client = pgtrack.Client(dbname=db)
    conn = psycopg.connect(dbname=db, autocommit=True)
    for m in METRICS:
        client.execute("SELECT pgtrack.add_metric(%s)", (m,))
    conn.execute(NARROW)
    conn.execute("CREATE INDEX bench_narrow_run_uuid ON bench_narrow (run_uuid)")  # MLflow has this index too
    wide_s, narrow_s = load(client, conn, experiments, runs, steps, narrow=True)
    conn.execute("VACUUM ANALYZE pgtrack.metrics")
    conn.execute("VACUUM ANALYZE bench_narrow")
    values = experiments * runs * steps * len(METRICS)
    size = {t: conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] for t in ("pgtrack.metrics", "bench_narrow")}
    rows = [["load", f"{wide_s:.1f} s", f"{narrow_s:.1f} s", f"{wide_s / narrow_s:.2f}x"],
            ["table + indexes", f"{size['pgtrack.metrics'] / 2**20:,.1f} MiB", f"{size['bench_narrow'] / 2**20:,.1f} MiB",
             f"{size['pgtrack.metrics'] / size['bench_narrow']:.2f}x"]]
    raw = {"values": values, "load_s": [wide_s, narrow_s], "bytes": size}
    for label, (wide_sql, narrow_sql) in QUERIES.items():
        assert len(client.execute(wide_sql)) == len(client.execute(narrow_sql))  # the same answer's shape
        times = {"wide": [], "narrow": []}
        for _ in range(5):
            for kind, sql in (("wide", wide_sql), ("narrow", narrow_sql)):
                start = time.perf_counter()
                client.execute(sql)
                times[kind].append(time.perf_counter() - start)
        w, n = median(times["wide"]), median(times["narrow"])
        rows.append([label, f"{w * 1000:,.1f} ms", f"{n * 1000:,.1f} ms", f"{w / n:.2f}x"])
        raw[label] = times
    results.table(f"4. Analysis at scale: {experiments} experiments x {runs} runs x {steps:,} steps x {len(METRICS)} "
                  f"metrics = {values:,} values", ["what", "wide columns (pgtrack)", "narrow rows (MLflow layout)", "wide / narrow"],
                  rows, "- Wide rows loaded with run_add_metrics_batch, narrow rows with COPY. Queries: median of 5, "
                  "interleaved; same database and server.", raw=raw)
    scaling(results)


def scaling(results) -> None:
    """The best-run query at 1x, 10x, 100x of 5 experiments x 10 runs x 100 steps (3 metrics used)."""
    db = new_database("b_scaling")
    client = pgtrack.Client(dbname=db)
    conn = psycopg.connect(dbname=db, autocommit=True)
    for m in METRICS:
        client.execute("SELECT pgtrack.add_metric(%s)", (m,))
    rows, loaded = [], 0
    base = (scaled(5, 1), 10, 100)
    for factor in (1, 10, 100):
        target = base[0] * factor
        load(client, conn, target - loaded, base[1], base[2], narrow=False)
        loaded = target
        conn.execute("VACUUM ANALYZE pgtrack.metrics")
        sql = QUERIES["best run per experiment by min val_loss, with its final train_loss"][0]
        t = median([(lambda s: (client.execute(sql), time.perf_counter() - s)[1])(time.perf_counter()) for _ in range(3)])
        metric_rows = loaded * base[1] * base[2]
        rows.append([f"{factor}x", f"{metric_rows:,}", f"{t * 1000:,.1f} ms", f"{t / metric_rows * 1e6:.2f}"])
    results.table("5b. Scaling: the best-run query", ["size", "metric rows", "query", "us per metric row"], rows)
