"""Scenario 1 (and the first half of 5): per-step logging of one run, 4 metrics per step.

Variants that commit once per step run fewer steps per round (their cost per step is dominated by the
commit, and 20,000 of them per variant and round would take minutes); batched variants run the full
count. Every figure is microseconds per step, the median over interleaved rounds. The three ratio
targets (buffered and the SQL batch writer against COPY, an unbuffered step against the hand-written
statement) are then measured again with each pair alone, interleaved (peers.pair_ratio), and judged on
the median of the rounds' ratios; the line shows both figures.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import psycopg

import pgtrack
from peers import ROUNDS, interleave, median, new_database, pair_ratio, pair_target, ratio, scaled, sqlalchemy_url, us

# The same statement, metrics and values as bench/metrics_bench.py.
from metrics_bench import HAND_WRITTEN, METRICS, values  # noqa: E402


def pgtrack_variants(db: str, full: int, commit_steps: int) -> Dict[str, Tuple[int, Callable[[int], float]]]:
    client = pgtrack.Client(dbname=db)
    for name in METRICS:
        client.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = pgtrack.Experiment(client, name="bench-logging")
    conn = psycopg.connect(dbname=db, autocommit=True)

    def python(buffer: bool, steps: int):
        def run(_: int) -> float:
            r = exp.get_run(buffer=buffer)
            with r.track():  # the run's start (environment capture: ~9 ms) and stop are not per-step costs
                start = time.perf_counter()
                for step in range(steps):
                    r.add_metrics(step=step, **values(step))
                r.flush()  # the last rows are written (and committed) before the clock stops
                elapsed = time.perf_counter() - start
            return elapsed / steps
        return steps, run

    def sql(steps: int, in_transaction: bool):
        def run(_: int) -> float:
            r = exp.get_run().id
            start = time.perf_counter()
            if in_transaction:
                with conn.transaction():
                    for step in range(steps):
                        conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, %s::jsonb)", (r, step, pgtrack._jsonvalues.to_json(values(step))))
            else:
                for step in range(steps):
                    conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, %s::jsonb)", (r, step, pgtrack._jsonvalues.to_json(values(step))))
            return (time.perf_counter() - start) / steps
        return steps, run

    def batch(steps: int):
        def run(_: int) -> float:
            r = exp.get_run().id
            start = time.perf_counter()
            for first in range(0, steps, 1000):
                rows = [{"step": s, **values(s)} for s in range(first, min(first + 1000, steps))]
                conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s::jsonb)", (r, pgtrack._jsonvalues.to_json(rows)))
            return (time.perf_counter() - start) / steps
        return steps, run

    def hand(steps: int, reused_cursor: bool = False):
        def run(_: int) -> float:
            r = exp.get_run().id
            execute = conn.cursor().execute if reused_cursor else conn.execute
            start = time.perf_counter()
            for step in range(steps):
                execute(HAND_WRITTEN, {"run": r, "step": step, **values(step)})
            return (time.perf_counter() - start) / steps
        return steps, run

    def copy(steps: int, binary: bool = False, chunk: int = 1000):
        def run(_: int) -> float:
            r = exp.get_run().id
            start = time.perf_counter()
            for first in range(0, steps, chunk):
                with conn.cursor().copy("COPY pgtrack.metrics (run_id, experiment_id, step, progress, train_loss, val_loss, acc, lr) "
                                        f"FROM STDIN{' (FORMAT binary)' if binary else ''}") as cp:
                    if binary:
                        cp.set_types(["int8", "int8", "int8", "float8", "float8", "float8", "float8", "float8"])
                    for s in range(first, min(first + chunk, steps)):
                        v = values(s)
                        cp.write_row((r, exp.id, s, 0.0, v["train_loss"], v["val_loss"], v["acc"], v["lr"]))
            return (time.perf_counter() - start) / steps
        return steps, run

    return {
        "pgtrack Python add_metrics, buffered": python(True, full),
        "pgtrack Python add_metrics, buffer=False": python(False, commit_steps),
        "pgtrack SQL run_add_metrics, autocommit": sql(commit_steps, False),
        "pgtrack SQL run_add_metrics, one transaction": sql(full, True),
        "pgtrack SQL run_add_metrics_batch (1,000 rows)": batch(full),
        "hand-written statement, autocommit": hand(commit_steps),
        "hand-written statement on one reused cursor, autocommit": hand(commit_steps, reused_cursor=True),
        "COPY (1,000 rows)": copy(full),
        "COPY (500 rows: the buffer's flush)": copy(full, chunk=500),
        "COPY (500 rows), binary": copy(full, binary=True, chunk=500),
    }


def sqltrack_variants(db: str, steps_connect: int, steps_default: int) -> Dict[str, Tuple[int, Callable[[int], float]]]:
    import sqltrack
    from sqltrack.commands.setup import setup

    os.environ.update(SQLTRACK_DSN_HOST=os.environ["PGHOST"], SQLTRACK_DSN_PORT=os.environ["PGPORT"],
                      SQLTRACK_DSN_USER=os.environ.get("PGUSER", "postgres"), SQLTRACK_DSN_DBNAME=db)
    client = sqltrack.Client()
    script = os.path.join(tempfile.mkdtemp(), "v001.sql")
    with open(script, "w") as f:
        f.write("BEGIN; ALTER TABLE metrics " + ", ".join(f"ADD COLUMN {m} FLOAT" for m in METRICS) + "; END;")
    setup(client, [script])
    exp = sqltrack.Experiment(client, name="bench")

    def variant(steps: int, in_connect: bool):
        def run(_: int) -> float:
            r = exp.get_run()
            start = time.perf_counter()
            if in_connect:
                with client.connect():
                    for step in range(steps):
                        r.add_metrics(step=step, **values(step))
            else:
                for step in range(steps):
                    r.add_metrics(step=step, **values(step))
            return (time.perf_counter() - start) / steps
        return steps, run

    return {"SQLTrack add_metrics in client.connect() (its best case)": variant(steps_connect, True),
            "SQLTrack add_metrics (its default)": variant(steps_default, False)}


def mlflow_variants(db: str, steps: int) -> Dict[str, Tuple[int, Callable[[int], float]]]:
    import logging

    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    store = SqlAlchemyStore(sqlalchemy_url(db), tempfile.mkdtemp())
    exp = store.create_experiment("bench")

    def variant(batch: bool):
        def run(_: int) -> float:
            rid = store.create_run(exp, "bench", int(time.time() * 1000), [], "run").info.run_id
            start = time.perf_counter()
            for step in range(steps):
                now = int(time.time() * 1000)
                metrics = [Metric(k, v, now, step) for k, v in values(step).items()]
                if batch:
                    store.log_batch(rid, metrics, [], [])
                else:
                    for metric in metrics:
                        store.log_metric(rid, metric)
            return (time.perf_counter() - start) / steps
        return steps, run

    return {"MLflow log_metric per value": variant(False), "MLflow log_batch per step": variant(True)}


def wandb_variants(steps: int) -> Dict[str, Tuple[int, Callable[[int], float]]]:
    """W&B in offline mode (no account, no network): run.log per step into a local run directory,
    through wandb's service process; run.finish() (which waits until the steps are written) is
    timed too, as pgtrack's flush at the end of track() is. wandb.init is not timed."""
    import wandb_peer

    def run(_: int) -> float:
        with wandb_peer.offline_run() as wrun:
            start = time.perf_counter()
            for step in range(steps):
                wrun.log(values(step), step=step)
            wrun.finish()
            return (time.perf_counter() - start) / steps
    return {f"W&B offline run.log per step (wandb {wandb_peer.version()})": (steps, run)}


def run(results) -> dict:
    full, commit_steps = scaled(20000, 4000), scaled(1000, 20)  # full: at least 8 flushes of the buffer
    slow = scaled(200, 10)
    variants = {}
    variants.update(pgtrack_variants(new_database("b_logging"), full, commit_steps))
    variants.update(sqltrack_variants(new_database("b_sqltrack", pgtrack=False), commit_steps, slow))
    variants.update(mlflow_variants(new_database("b_mlflow", pgtrack=False), slow))
    variants.update(wandb_variants(commit_steps))
    costs = interleave(ROUNDS, {name: fn for name, (_, fn) in variants.items()})
    med = {name: median(c) for name, c in costs.items()}
    hand, copy = med["hand-written statement, autocommit"], med["COPY (1,000 rows)"]
    rows = [[name, f"{variants[name][0]:,}", us(med[name]), ratio(med[name], hand), ratio(med[name], copy)] for name in variants]
    buffered = med["pgtrack Python add_metrics, buffered"]
    copy500 = med["COPY (500 rows: the buffer's flush)"]
    wandb_name = next(name for name in med if name.startswith("W&B"))
    # The ratio targets again, each pair alone (peers.pair_ratio).
    pairs = {"buffered": ("pgtrack Python add_metrics, buffered", "COPY (500 rows: the buffer's flush)"),
             "batch": ("pgtrack SQL run_add_metrics_batch (1,000 rows)", "COPY (1,000 rows)"),
             "unbuffered": ("pgtrack Python add_metrics, buffer=False", "hand-written statement, autocommit")}
    alone = {key: pair_ratio(variants[ours][1], variants[theirs][1]) for key, (ours, theirs) in pairs.items()}
    targets = [
        ("buffered <= 1.2x COPY per row (COPY in the buffer's 500-row chunks)", "buffered", buffered / copy500, 1.2),
        ("SQL batch writer <= 1.3x COPY per row", "batch", med["pgtrack SQL run_add_metrics_batch (1,000 rows)"] / copy, 1.3),
        ("unbuffered autocommit <= 1.1x the hand-written statement", "unbuffered",
         med["pgtrack Python add_metrics, buffer=False"] / hand, 1.1),
        (">= 10x faster than SQLTrack's default", None, med["SQLTrack add_metrics (its default)"] / buffered, 1 / 10),
        (">= 10x faster than MLflow log_metric per value", None, med["MLflow log_metric per value"] / buffered, 1 / 10),
    ]
    lines = [f"- COPY is the text format, as a person writes it with psycopg, one COPY and commit per chunk; the "
             f"buffered client flushes (and commits) every 500 rows, so it is held to COPY in 500-row chunks. Binary "
             f"COPY, the physical limit, is {copy500 / med['COPY (500 rows), binary']:.2f}x faster than text, and "
             f"buffered logging is {buffered / med['COPY (500 rows), binary']:.2f}x binary COPY (its flushes are "
             f"binary COPY).",
             f"- W&B offline costs {med[wandb_name] / buffered:.0f}x buffered pgtrack per step, "
             f"{med[wandb_name] / med['pgtrack Python add_metrics, buffer=False']:.2f}x unbuffered pgtrack "
             f"(which commits every step; W&B's run.log hands the step to its service process and returns).",
             f"- The hand-written statement is sent as people write it with psycopg, `conn.execute` (a new cursor "
             f"per call); on one reused cursor, as pgtrack's client sends its calls, it costs "
             f"{med['hand-written statement on one reused cursor, autocommit'] / hand:.2f}x that, and unbuffered "
             f"pgtrack is {med['pgtrack Python add_metrics, buffer=False'] / med['hand-written statement on one reused cursor, autocommit']:.2f}x it."]
    for label, pair, value, limit in targets:
        if pair is None:
            met = value >= 1 / limit
            lines.append(f"- target {label}: {value:.0f}x faster -> {'met' if met else 'MISSED'}")
        else:
            lines.append(pair_target(label, alone[pair][0], value, limit))
    results.table("1. Per-step logging (one run, 4 metrics per step)",
                  ["variant", "steps per round", "us per step", "vs hand-written", "vs COPY"], rows,
                  "\n".join(lines), raw={"all variants": costs, "pairs alone": {k: v[1] for k, v in alone.items()}})
    return med


def transaction_flatness(results) -> None:
    """Per-call cost of run_add_metrics inside one transaction at 1,000 and 20,000 calls."""
    db = new_database("b_flat")
    conn = psycopg.connect(dbname=db, autocommit=True)
    for name in METRICS:
        conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = conn.execute("SELECT pgtrack.experiment('flat')").fetchone()[0]
    sizes = [scaled(1000, 50), scaled(20000, 500)]

    def variant(calls: int):
        def run(_: int) -> float:
            r = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
            start = time.perf_counter()
            with conn.transaction():
                for step in range(calls):
                    conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, %s::jsonb)", (r, step, pgtrack._jsonvalues.to_json(values(step))))
            return (time.perf_counter() - start) / calls
        return run

    costs = interleave(ROUNDS, {f"{n:,} calls in one transaction": variant(n) for n in sizes})
    med = [median(c) for c in costs.values()]
    results.table("1b. run_add_metrics inside one transaction", ["calls", "us per call"],
                  [[name, us(median(c))] for name, c in costs.items()],
                  f"- target: flat from {sizes[0]:,} to {sizes[1]:,} calls: ratio {med[1] / med[0]:.2f} "
                  f"-> {'met' if med[1] / med[0] < 1.3 else 'MISSED'} (0.1.0 grew about 6x over 500 to 4,000 calls)",
                  raw=costs)


def scaling(results) -> None:
    """Scenario 5, first half: per-step cost of buffered logging at 1x, 10x, 100x of 2,000 steps."""
    db = new_database("b_scale")
    client = pgtrack.Client(dbname=db)
    for name in METRICS:
        client.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = pgtrack.Experiment(client, name="scale")
    rows = []
    for factor in (1, 10, 100):
        steps = scaled(2000 * factor, 10)

        def once(_: int) -> float:
            r = exp.get_run()
            start = time.perf_counter()
            with r.track():
                for step in range(steps):
                    r.add_metrics(step=step, **values(step))
            return (time.perf_counter() - start) / steps
        rounds = 3 if factor < 100 else 1
        rows.append([f"{factor}x", f"{steps:,}", us(median([once(i) for i in range(rounds)]))])
    results.table("5a. Scaling: buffered per-step logging", ["size", "steps", "us per step"], rows)
