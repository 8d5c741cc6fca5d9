"""Scenario 3: sweep dispatch under contention. A grid of configs drained by 1, 2, 4 and 8 worker
processes; each config a 5 ms fake job with 3 metric steps. While the sweep runs, 10% of the workers
(at least one) are killed with SIGKILL at a random moment and restarted at once. Duplicated
completions are counted from the workers' completion logs; lost configs from the store at the end
(configs not completed there: a worker killed between its completion and its log line completed its
config all the same); configs per second, and how long the killed worker's config waited before
another worker took it (stale_after is 2 s).
"""
from __future__ import annotations

import collections
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import psycopg

from peers import new_database, scaled

HERE = os.path.dirname(os.path.abspath(__file__))
STALE, JOB_MS = 2.0, 5.0
WALLOW_TOML = "[project]\nname = 'sweep'\n[identifying.config]\ntype = 'int'\n[annotating.status]\ntype = 'string'\n"


def one_sweep(system: str, workers: int, configs: int, rng: random.Random) -> dict:
    tmp = tempfile.mkdtemp()
    log = os.path.join(tmp, "completions.log")
    if system == "pgtrack":
        db = new_database("b_sweep")
        with psycopg.connect(dbname=db, autocommit=True) as conn:
            conn.execute("SELECT pgtrack.add_metric('loss')")
            exp = conn.execute("SELECT pgtrack.experiment('sweep')").fetchone()[0]
            conn.execute("SELECT pgtrack.declare_identifying(%s, 'config', 'int')", (exp,))
            conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('config', g)) "
                         "FROM generate_series(0, %s) g))", (exp, configs - 1))
        args = [db]
    else:
        from wallow import Store, load_schema
        toml = os.path.join(tmp, "wallow.toml")
        with open(toml, "w") as f:
            f.write(WALLOW_TOML)
        path = os.path.join(tmp, "runs.db")
        Store(path, schema=load_schema(toml), check_schema=False)  # the README's bootstrap: WAL before forking
        args = [path]

    def start(name: str) -> subprocess.Popen:
        extra = [] if system == "pgtrack" else [toml, str(configs)]
        return subprocess.Popen([sys.executable, os.path.join(HERE, "sweep_worker.py"), system, args[0], name, log,
                                 str(STALE), str(JOB_MS), *extra], env=dict(os.environ), stderr=subprocess.DEVNULL)

    begin = time.monotonic()
    procs = {f"w{i}": start(f"w{i}") for i in range(workers)}
    expected = configs * (JOB_MS / 1000 + 0.006) / workers
    time.sleep(rng.uniform(0.2, 0.6) * expected)
    kills = []
    for name in rng.sample(sorted(procs), max(1, math.ceil(workers * 0.1))):
        procs[name].send_signal(signal.SIGKILL)
        procs[name].wait()
        kills.append((name, time.time()))
        procs[name + "-restarted"] = start(name + "-restarted")
    deadline = time.monotonic() + max(120, expected * 20)
    for proc in procs.values():
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    elapsed = time.monotonic() - begin
    completions = collections.Counter()
    with open(log) as f:
        for line in f:
            completions[int(line.split(",")[0])] += 1
    recovery = None
    if system == "pgtrack":
        with psycopg.connect(dbname=args[0]) as conn:
            taken = conn.execute("SELECT extract(epoch FROM time_started) FROM pgtrack.runs WHERE attempt > 1").fetchall()
            completed = conn.execute("SELECT count(DISTINCT identity) FROM pgtrack.runs WHERE status = 'COMPLETED'").fetchone()[0]
        if taken:
            recovery = float(max(t for (t,) in taken)) - kills[0][1]
    else:
        with sqlite3.connect(args[0]) as db:
            completed = db.execute("SELECT count(*) FROM runs WHERE status = 'completed'").fetchone()[0]
    return {"duplicates": sum(n - 1 for n in completions.values() if n > 1),
            "duplicated_configs": sum(1 for n in completions.values() if n > 1),
            "lost": configs - completed, "configs_per_s": configs / elapsed, "seconds": elapsed,
            "recovery_s": recovery, "killed": len(kills)}


def run(results) -> None:
    configs = scaled(2000, 40)
    rng = random.Random(7)
    rows, raw = [], {}
    for workers in (1, 2, 4, 8):
        for system in ("pgtrack", "wallow"):
            r = one_sweep(system, workers, configs, rng)
            raw[f"{system}/{workers}"] = r
            rows.append([system, workers, r["killed"], r["duplicates"], r["lost"], f"{r['configs_per_s']:,.0f}",
                         f"{r['seconds']:.1f}", "-" if r["recovery_s"] is None else f"{r['recovery_s']:.1f}"])
    ok = all(raw[f"pgtrack/{w}"]["duplicates"] == 0 and raw[f"pgtrack/{w}"]["lost"] == 0 for w in (1, 2, 4, 8))
    notes = (f"- {configs:,} configs, each a {JOB_MS:g} ms job with 3 metric steps; stale_after {STALE:g} s; "
             "killed workers are restarted at once.\n"
             f"- target: 0 duplicated completions and 0 lost configs at every worker count for pgtrack: "
             f"{'met' if ok else 'MISSED'}.\n"
             "- pgtrack: claim_next (FOR UPDATE SKIP LOCKED) hands each config to one worker; every write passes "
             "the claimed attempt, so a worker that lost its claim cannot complete it. The killed worker's config "
             "waits stale_after, then the next claim_next takes it (recovery = kill to that claim).\n"
             "- wallow: its README recipe (claim_if_stale + heartbeat over the grid until all are completed) on "
             "SQLite. Its claim is not atomic, and a completed row older than stale_after is claimed again "
             "(the claim writes status=running before the recipe's completed check), so completions repeat.")
    results.table("3. Sweep dispatch under contention, 10% of workers killed with SIGKILL",
                  ["system", "workers", "killed", "duplicated completions", "lost configs", "configs/s", "seconds",
                   "recovery (s)"], rows, notes, raw=raw)
