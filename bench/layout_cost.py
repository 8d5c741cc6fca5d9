"""What the Citus-ready layout (0.3.0: experiment_id on metric rows, run-id statements that can route)
costs a single server: the same calls on two databases of one server, one with the code before the
change and one with the current code, interleaved rounds, medians of per-round ratios.

Usage: layout_cost.py BEFORE_DBNAME AFTER_DBNAME. Make the "before" database with a checkout of the
earlier commit: `PYTHONPATH=<old checkout>/python python -m pgtrack -d BEFORE setup --plain` (no
CREATE EXTENSION, so both versions can live on one server). PGTRACK_BENCH_SCALE scales the call counts.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import psycopg

SCALE = float(os.environ.get("PGTRACK_BENCH_SCALE", "1"))
CALLS = max(200, int(2000 * SCALE))
ROUNDS = 7
METRICS = {"train_loss": 0.5, "val_loss": 0.6, "acc": 0.7, "lr": 0.1}


def prepare(conn: psycopg.Connection) -> dict:
    for name in METRICS:
        conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = conn.execute("SELECT pgtrack.experiment('layout-cost')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', -g)) FROM generate_series(1, 2000) g))", (exp,))
    conn.execute("ANALYZE pgtrack.runs")
    run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
    return {"exp": exp, "run": run, "step": 0, "key": 0}


def log_step(conn, state):
    for _ in range(CALLS):
        state["step"] += 1
        conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, %s)", (state["run"], state["step"], json.dumps(METRICS)))


def log_batch(conn, state):
    for _ in range(CALLS // 20):
        rows = [dict(METRICS, step=state["step"] + i + 1) for i in range(100)]
        state["step"] += 100
        conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s)", (state["run"], json.dumps(rows)))


def register_new(conn, state):
    for _ in range(CALLS // 2):
        state["key"] += 1
        conn.execute("SELECT pgtrack.register(%s, %s, on_duplicate => 'raise')", (state["exp"], json.dumps({"k": state["key"]})))


def register_hit(conn, state):
    for i in range(CALLS // 2):
        conn.execute("SELECT pgtrack.register(%s, %s, on_duplicate => 'return_existing')",
                     (state["exp"], json.dumps({"k": -(i % 2000) - 1})))


def heartbeat(conn, state):
    for _ in range(CALLS):
        conn.execute("SELECT pgtrack.heartbeat(%s)", (state["run"],))


CASES = {"run_add_metrics, one step per call": log_step, "run_add_metrics_batch, 100 rows per call": log_batch,
         "register, new key": register_new, "register, return_existing hit": register_hit, "heartbeat": heartbeat}


def main() -> None:
    before, after = (psycopg.connect(dbname=name, autocommit=True) for name in sys.argv[1:3])
    states = {"before": prepare(before), "after": prepare(after)}
    conns = {"before": before, "after": after}
    print(f"{CALLS} calls per case and round, {ROUNDS} rounds, interleaved; ratio = after / before (median)")
    print("| call | before (us) | after (us) | after / before |")
    print("|---|---:|---:|---:|")
    for label, fn in CASES.items():
        times = {"before": [], "after": []}
        for r in range(ROUNDS):
            for side in (("before", "after") if r % 2 == 0 else ("after", "before")):
                start = time.perf_counter()
                fn(conns[side], states[side])
                times[side].append(time.perf_counter() - start)
        ratio = statistics.median(a / b for a, b in zip(times["after"], times["before"]))
        per = CALLS if "one step" in label or label == "heartbeat" else CALLS // 20 if "batch" in label else CALLS // 2
        print(f"| {label} | {statistics.median(times['before']) / per * 1e6:.0f} | "
              f"{statistics.median(times['after']) / per * 1e6:.0f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
