"""Scenario 2: the registry. New keys, then the same keys again with return_existing: pgtrack from
Python and from SQL against wallow on SQLite (its only backend). Each at its default durability:
PostgreSQL commits with fsync (synchronous_commit on); wallow runs SQLite in WAL mode with
synchronous=NORMAL, which does not sync on commit. And at equal durability, the targets: pgtrack with
synchronous_commit=off (no wait for the WAL flush at commit) against wallow's default, and pgtrack's
default against wallow with synchronous=FULL (SQLite syncs the WAL at every commit). Enqueue shows the
batched path. The two equal-durability targets are judged on each pair alone (peers.pair_ratio: 11
interleaved rounds of new keys, 3 in the quick run; the median of the rounds' ratios); the line shows the figure among all
the variants too.
"""
from __future__ import annotations

import os
import tempfile
import time

import psycopg

import pgtrack
from peers import PAIR_ROUNDS, ROUNDS, interleave, median, new_database, pair_ratio, pair_target, ratio, scaled, us

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
        ks = [pgtrack._jsonvalues.identifying_json(k) for k in keys(r, per_round)]
        return timed_per(lambda: [conn.execute("SELECT run_id FROM pgtrack.register(%s, %s::jsonb, on_duplicate => 'return_existing')",
                                               (exp_sql, k)) for k in ks], per_round)

    exp_q = conn.execute("SELECT pgtrack.experiment('enqueue')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int'), pgtrack.declare_identifying(%s, 'lr', 'float')", (exp_q, exp_q))

    def enqueue(r):
        ks = "[" + ",".join(pgtrack._jsonvalues.identifying_json(k) for k in keys(r, per_round)) + "]"
        return timed_per(lambda: conn.execute("SELECT pgtrack.enqueue(%s, %s::jsonb)", (exp_q, ks)), per_round)

    from sqlalchemy import event
    from wallow import Store, load_schema, register
    path = os.path.join(tempfile.mkdtemp(), "wallow.toml")
    with open(path, "w") as f:
        f.write(WALLOW_SCHEMA)

    def wallow_variant(synchronous_full: bool):
        store = Store(os.path.join(tempfile.mkdtemp(), "runs.db"), schema=load_schema(path), check_schema=False)
        if synchronous_full:  # after wallow's own connect hook (synchronous=NORMAL), on every new connection
            event.listen(store._engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous=FULL"))
            store._engine.dispose()
            with store._engine.connect() as c:
                assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL

        def wallow_register(r):
            ks = keys(r, per_round)
            return timed_per(lambda: [register(store, identifying=k, on_duplicate="return_existing") for k in ks], per_round)
        return wallow_register

    wallow_register, wallow_full = wallow_variant(False), wallow_variant(True)
    registers = {"pgtrack Python register": py_register, "pgtrack SQL register": sql_register,
                 "wallow register (SQLite)": wallow_register,
                 "pgtrack Python register, synchronous_commit=off": py_register_async,
                 "wallow register, SQLite synchronous=FULL": wallow_full}
    new = interleave(ROUNDS, {**registers, "pgtrack SQL enqueue (one statement per round)": enqueue})
    hits = interleave(ROUNDS, registers)  # same keys again: every call is a hit now
    wallow_new, wallow_hit = median(new["wallow register (SQLite)"]), median(hits["wallow register (SQLite)"])
    rows = []
    for name in new:
        n = median(new[name])
        h = median(hits[name]) if name in hits else None
        rows.append([name, us(n), f"{1 / n:,.0f}", ratio(n, wallow_new), us(h) if h else "-",
                     f"{1 / h:,.0f}" if h else "-", ratio(h, wallow_hit) if h else "-"])
    def target(label: str, ours: float, theirs: float, limit: float) -> str:
        return f"- target {label}: {ours / theirs:.2f}x -> {'met' if ours / theirs <= limit else 'MISSED'} (<= {limit}x)"

    # The new-key targets again, each pair alone (peers.pair_ratio), on keys no round used before.
    fresh = ROUNDS + 1
    equal = {"sync off": pair_ratio(py_register_async, wallow_register, fresh),
             "full": pair_ratio(py_register, wallow_full, fresh + PAIR_ROUNDS)}

    notes = "\n".join([
        f"- {per_round * ROUNDS:,} new keys and as many hits per variant ({per_round:,} per round, {ROUNDS} rounds); "
        f"\"vs wallow\" is against wallow at its default (SQLite WAL, synchronous=NORMAL).",
        pair_target("new key at equal durability, pgtrack synchronous_commit=off vs wallow's default", equal["sync off"][0],
                    median(new["pgtrack Python register, synchronous_commit=off"]) / wallow_new, 1.0),
        pair_target("new key at equal durability, pgtrack's default vs wallow with synchronous=FULL", equal["full"][0],
                    median(new["pgtrack Python register"]) / median(new["wallow register, SQLite synchronous=FULL"]), 1.0),
        target("hit, pgtrack's default vs wallow's default", median(hits["pgtrack Python register"]), wallow_hit, 0.5),
        f"- Each at its own default a new key costs pgtrack {median(new['pgtrack Python register']) / wallow_new:.2f}x "
        f"wallow: PostgreSQL waits for the WAL fsync at commit, SQLite's synchronous=NORMAL does not. "
        f"A hit writes nothing in pgtrack (no lock, no transaction id, no commit to wait for). The batched path, "
        f"enqueue, registers a key in {us(median(new['pgtrack SQL enqueue (one statement per round)']))} us.",
    ])
    results.table("2. Registry: new keys and return_existing hits",
                  ["variant", "new key (us)", "new keys/s", "vs wallow", "hit (us)", "hits/s", "vs wallow"], rows, notes,
                  raw={"new": new, "hits": hits, "new keys, pairs alone": {k: v[1] for k, v in equal.items()}})
