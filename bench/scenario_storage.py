"""Scenario 6: what a run costs to keep and to read back, pgtrack against MLflow (SqlAlchemyStore on the
same PostgreSQL server) and W&B offline (its run directory).

1. Read-back: the whole history of one run (STEPS steps x 4 metrics), median of interleaved reads:
   pgtrack's rows by SQL and as pandas.history's DataFrame; MLflow's get_metric_history per metric;
   W&B's offline run file parsed (bench/wandb_peer.py; an offline run has no query API).
2. Bytes per run: RUNS runs of STEPS steps written by each, then the database growth (every relation
   of the store, indexes and TOAST included, after VACUUM) or the run directories, divided by RUNS.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time

import psycopg

import pgtrack
import pgtrack.pandas
import wandb_peer
from metrics_bench import METRICS, values
from peers import ROUNDS, SCALE, median, new_database, scaled, sqlalchemy_url

RUNS = 5 if SCALE >= 1 else 2  # a quick run (PGTRACK_BENCH_SCALE < 1) writes 2


def database_bytes(db: str) -> int:
    with psycopg.connect(dbname=db, autocommit=True) as conn:
        conn.execute("VACUUM")
        return conn.execute("SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')").fetchone()[0]


def directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def pgtrack_side(steps: int):
    db = new_database("b_store_pgtrack")
    client = pgtrack.Client(dbname=db)
    for name in METRICS:
        client.add_metric(name)
    exp = pgtrack.Experiment(client, name="store")
    empty = database_bytes(db)
    runs = []
    for _ in range(RUNS):
        run = exp.get_run()
        with run.track(heartbeat=None):
            for step in range(steps):
                run.add_metrics(step=step, **values(step))
        runs.append(run)
    size = (database_bytes(db) - empty) / RUNS
    query = "SELECT step, train_loss, val_loss, acc, lr FROM pgtrack.metrics WHERE run_id = %s ORDER BY step, progress"

    def by_sql(_: int) -> float:
        start = time.perf_counter()
        rows = client.execute(query, (runs[0].id,))
        assert len(rows) == steps
        return time.perf_counter() - start

    def by_pandas(_: int) -> float:
        start = time.perf_counter()
        frame = pgtrack.pandas.history(runs[0])
        assert len(frame) == steps * len(METRICS)
        return time.perf_counter() - start
    return size, {"pgtrack, SQL (rows)": by_sql, "pgtrack, pandas.history (long DataFrame)": by_pandas}


def mlflow_side(steps: int):
    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    db = new_database("b_store_mlflow", pgtrack=False)
    store = SqlAlchemyStore(sqlalchemy_url(db), tempfile.mkdtemp())
    exp = store.create_experiment("store")
    empty = database_bytes(db)
    run_ids = []
    for _ in range(RUNS):
        run_id = store.create_run(exp, "bench", int(time.time() * 1000), [], "run").info.run_id
        for first in range(0, steps, 100):  # log_batch takes at most 1,000 metrics per call
            now = int(time.time() * 1000)
            store.log_batch(run_id, [Metric(k, v, now, s) for s in range(first, min(first + 100, steps))
                                     for k, v in values(s).items()], [], [])
        run_ids.append(run_id)
    size = (database_bytes(db) - empty) / RUNS

    def read(_: int) -> float:
        start = time.perf_counter()
        history = {key: store.get_metric_history(run_ids[0], key) for key in METRICS}
        assert all(len(h) == steps for h in history.values())
        return time.perf_counter() - start
    return size, {"MLflow get_metric_history per metric": read}


def wandb_side(steps: int):
    directories = []
    for _ in range(RUNS):
        directory = tempfile.mkdtemp(prefix="wandb-store-")
        with wandb_peer.offline_run(directory) as run:
            for step in range(steps):
                run.log(values(step), step=step)
        directories.append(directory)
    size = sum(directory_bytes(d) for d in directories) / RUNS
    path = wandb_peer.run_file(directories[0])

    def read(_: int) -> float:
        start = time.perf_counter()
        rows = wandb_peer.history(path)
        assert len(rows) == steps
        return time.perf_counter() - start
    return size, {f"W&B offline, run file parsed (wandb {wandb_peer.version()})": read}


def run(results) -> None:
    steps = scaled(20000, 200)
    sizes, readers = {}, {}
    for label, side in (("pgtrack", pgtrack_side), ("MLflow", mlflow_side), ("W&B offline", wandb_side)):
        sizes[label], found = side(steps)
        readers.update(found)
    times = {}
    for r in range(ROUNDS):
        for name in (list(readers) if r % 2 == 0 else list(reversed(list(readers)))):
            times.setdefault(name, []).append(readers[name](r))
    fastest_pgtrack = median(times["pgtrack, SQL (rows)"])
    rows = [[name, f"{median(t) * 1e3:,.1f}", f"{median(t) / fastest_pgtrack:.1f}x"] for name, t in times.items()]
    results.table(f"4b. Reading back one run's history ({steps:,} steps x {len(METRICS)} metrics)",
                  ["reader", "ms", "vs pgtrack SQL"], rows,
                  "- Median of interleaved reads. pandas.history returns one row per value (long format), "
                  "MLflow one Metric object per value, W&B one dict per step.", raw=times)
    values_per_run = steps * len(METRICS)
    rows = [[label, f"{size / 2 ** 20:,.2f}", f"{size / values_per_run:,.1f}", f"{size / sizes['pgtrack']:.1f}x"]
            for label, size in sizes.items()]
    results.table(f"4c. Bytes per run ({RUNS} runs of {steps:,} steps x {len(METRICS)} metrics)",
                  ["store", "MiB per run", "bytes per value", "vs pgtrack"], rows,
                  "- pgtrack and MLflow: growth of every relation of their database (indexes and TOAST included, "
                  "after VACUUM) over the empty store, divided by the runs. W&B: its offline run directories "
                  "(the .wandb log, config, summary, logs).")
