"""Scenario 2: the registry. New keys, then the same keys again with return_existing: pgtrack from
Python and from SQL against wallow on SQLite (its only backend), each at its default durability:
PostgreSQL commits with fsync (synchronous_commit on); wallow runs SQLite in WAL mode with
synchronous=NORMAL, which does not sync on commit. A second, labelled pgtrack column shows
synchronous_commit=off, the comparable setting, and enqueue shows the batched path.
"""
from __future__ import annotations

import os
import tempfile
import time

import psycopg

import pgtrack
from peers import ROUNDS, interleave, median, new_database, ratio, scaled, us

WALLOW_SCHEMA = """
[project]
name = "bench"
[identifying.k]
type = "int"
[identifying.lr]
type = "float"
[annotating.status]
type = "string"
"""


def keys(round_: int, n: int):
    return [{"k": round_ * 1_000_000 + i, "lr": 0.1 * (i % 7)} for i in range(n)]


def run(results) -> None:
    per_round = scaled(2000, 50)
    db = new_database("b_registry")
    variants = {}

    def pgtrack_python(sync_off: bool):
        client = pgtrack.Client(dbname=db, options="-c synchronous_commit=off" if sync_off else None)
        exp = pgtrack.Experiment(client, name=f"py{'-async' if sync_off else ''}")
        exp.declare_identifying("k", "int")
        exp.declare_identifying("lr", "float")

        def register_round(r):  # new keys in the first pass over the rounds, hits in the second
            ks = keys(r, per_round)
            return timed_per(lambda: [exp.register(k, on_duplicate="return_existing") for k in ks], per_round)
        return register_round

    def timed_per(fn, n):
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) / n

    py_register, py_register_async = pgtrack_python(False), pgtrack_python(True)
    conn = psycopg.connect(dbname=db, autocommit=True)
    exp_sql = conn.execute("SELECT pgtrack.experiment('sql')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int'), pgtrack.declare_identifying(%s, 'lr', 'float')", (exp_sql, exp_sql))

    def sql_register(r):
        ks = [pgtrack.jsonvalues.identifying_json(k) for k in keys(r, per_round)]
        return timed_per(lambda: [conn.execute("SELECT run_id FROM pgtrack.register(%s, %s::jsonb, on_duplicate => 'return_existing')",
                                               (exp_sql, k)) for k in ks], per_round)

    exp_q = conn.execute("SELECT pgtrack.experiment('enqueue')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int'), pgtrack.declare_identifying(%s, 'lr', 'float')", (exp_q, exp_q))

    def enqueue(r):
        ks = "[" + ",".join(pgtrack.jsonvalues.identifying_json(k) for k in keys(r, per_round)) + "]"
        return timed_per(lambda: conn.execute("SELECT pgtrack.enqueue(%s, %s::jsonb)", (exp_q, ks)), per_round)

    from wallow import Store, load_schema, register
    path = os.path.join(tempfile.mkdtemp(), "wallow.toml")
    with open(path, "w") as f:
        f.write(WALLOW_SCHEMA)
    store = Store(os.path.join(tempfile.mkdtemp(), "runs.db"), schema=load_schema(path), check_schema=False)

    def wallow_register(r):
        ks = keys(r, per_round)
        return timed_per(lambda: [register(store, identifying=k, on_duplicate="return_existing") for k in ks], per_round)

    new = interleave(ROUNDS, {"pgtrack Python register": py_register, "pgtrack SQL register": sql_register,
                              "wallow register (SQLite)": wallow_register,
                              "pgtrack Python register, synchronous_commit=off": py_register_async,
                              "pgtrack SQL enqueue (one statement per round)": enqueue})
    # Same keys again: every call is a hit now.
    hits = interleave(ROUNDS, {"pgtrack Python register": py_register, "pgtrack SQL register": sql_register,
                               "wallow register (SQLite)": wallow_register,
                               "pgtrack Python register, synchronous_commit=off": py_register_async})
    wallow_new, wallow_hit = median(new["wallow register (SQLite)"]), median(hits["wallow register (SQLite)"])
    rows = []
    for name in new:
        n = median(new[name])
        h = median(hits[name]) if name in hits else None
        rows.append([name, us(n), f"{1 / n:,.0f}", ratio(n, wallow_new), us(h) if h else "-",
                     f"{1 / h:,.0f}" if h else "-", ratio(h, wallow_hit) if h else "-"])
    best_py_new = median(new["pgtrack Python register"])
    notes = (f"- {per_round * ROUNDS:,} new keys and as many hits per variant ({per_round:,} per round, {ROUNDS} rounds).\n"
             f"- target: pgtrack at least as fast as wallow, each at its default durability: new keys "
             f"{'met' if best_py_new <= wallow_new else 'MISSED'} ({best_py_new / wallow_new:.2f}x), hits "
             f"{'met' if median(hits['pgtrack Python register']) <= wallow_hit else 'MISSED'} "
             f"({median(hits['pgtrack Python register']) / wallow_hit:.2f}x).\n"
             f"- A new key is a commit; at PostgreSQL's default durability each commit waits for its WAL fsync, "
             f"while SQLite's WAL mode with synchronous=NORMAL does not sync on commit. With "
             f"synchronous_commit=off (WAL still written, a server crash may lose the last moments, never "
             f"corrupts) pgtrack runs at {us(median(new['pgtrack Python register, synchronous_commit=off']))} us "
             f"per new key; the batched path, enqueue, registers a key in "
             f"{us(median(new['pgtrack SQL enqueue (one statement per round)']))} us.")
    results.table("2. Registry: new keys and return_existing hits",
                  ["variant", "new key (us)", "new keys/s", "vs wallow", "hit (us)", "hits/s", "vs wallow"], rows, notes,
                  raw={"new": new, "hits": hits})
