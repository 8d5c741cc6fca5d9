"""The registry and per-step logging on a Citus cluster (coordinator + 2 workers, tools/citus.sh) against
a single PostgreSQL server, both on this machine at PostgreSQL's default durability (fsync and
synchronous_commit on), with 1, 4 and 16 concurrent clients (separate processes, one connection each).

Operations, each one call per transaction as a worker makes them:
  register   pgtrack.register(exp, new key, on_duplicate => 'raise')   (16 clients: one experiment)
  claim_next pgtrack.claim_next(exp, stale_after)                       (a queue of PENDING runs; each
             claimed run is then completed, untimed, so live runs stay about one per client)
  heartbeat  pgtrack.heartbeat(run, attempt, experiment_id)             (each client its own run)
  log step   pgtrack.run_add_metrics(run, step, {4 metrics}, experiment_id => ...)
  log step, no experiment_id: the same without the hint (on Citus: a lookup over every shard first)

Rounds interleave the two targets; reported: median per-call latency (ms) and throughput (calls/s,
all clients together), medians over the rounds. Usage: citus_bench.py SINGLE_DBNAME CITUS_CONNINFO.
PGTRACK_BENCH_SCALE scales the seconds per measurement (default 1: 1.5 s; at least 0.3 s).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import statistics
import sys
import time

import psycopg

SCALE = float(os.environ.get("PGTRACK_BENCH_SCALE", "1"))
SECONDS = max(0.3, 1.5 * SCALE)
ROUNDS = 3
CLIENTS = (1, 4, 16)
QUEUE = max(4_000, int(20_000 * SCALE))  # claims of every round and client count stay well below this
OPS = ("register", "claim_next", "heartbeat", "log step", "log step, no experiment_id")


def prepare(conninfo: str) -> dict:
    """A fresh experiment per operation; a queue big enough for every claim of every round."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tag = f"{os.getpid()}-{time.time_ns()}"
        ids = {}
        for op in ("register", "claim_next", "runs"):
            ids[op] = conn.execute("SELECT pgtrack.experiment(%s)", (f"bench-{op}-{tag}",)).fetchone()[0]
            conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (ids[op],))
        for name in ("train_loss", "val_loss", "acc", "lr"):
            conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
        start = time.perf_counter()
        for first in range(1, QUEUE + 1, 1000):
            conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', g)) FROM generate_series(%s::int, %s::int) g))",
                         (ids["claim_next"], first, first + 999))
        print(f"enqueue of {QUEUE} runs in calls of 1,000: {time.perf_counter() - start:.1f} s on {conninfo.split()[0]}", flush=True)
        runs = [conn.execute("SELECT run_id, attempt FROM pgtrack.register(%s, %s, on_duplicate => 'claim_if_stale', "
                             "stale_after => '1 hour')", (ids["runs"], json.dumps({"k": i}))).fetchone() for i in range(16)]
        return {"ids": ids, "runs": runs}


def client(conninfo: str, op: str, index: int, setup: dict, seconds: float, barrier, out) -> None:
    ids, (run, attempt) = setup["ids"], setup["runs"][index]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT 1")
        latencies = []
        n = 0
        barrier.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            if op == "register":
                conn.execute("SELECT pgtrack.register(%s, %s, on_duplicate => 'raise')",
                             (ids["register"], json.dumps({"k": (time.time_ns() // 1000) * 100 + index})))
            elif op == "claim_next":  # the run is then completed, untimed, as a worker would: live runs stay few
                claimed, claim_attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '1 hour', 'bench')",
                                                      (ids["claim_next"],)).fetchone()
                latencies.append(time.perf_counter() - start)
                conn.execute("SELECT pgtrack.run_stop(%s, attempt => %s, experiment_id => %s)",
                             (claimed, claim_attempt, ids["claim_next"]))
                continue
            elif op == "heartbeat":
                conn.execute("SELECT pgtrack.heartbeat(%s, %s, %s)", (run, attempt, ids["runs"]))
            else:
                hint = ids["runs"] if op == "log step" else None
                n += 1
                conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, %s, attempt => %s, experiment_id => %s)",
                             (run, (time.time_ns() // 1000) * 100 + n % 100, json.dumps(
                                 {"train_loss": 0.5, "val_loss": 0.6, "acc": 0.7, "lr": 0.1}), attempt, hint))
            latencies.append(time.perf_counter() - start)
        out.put(latencies)


def measure(conninfo: str, op: str, clients: int, setup: dict) -> tuple:
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(clients), ctx.Queue()
    procs = [ctx.Process(target=client, args=(conninfo, op, i, setup, SECONDS, barrier, out)) for i in range(clients)]
    for p in procs:
        p.start()
    latencies = [x for _ in procs for x in out.get(timeout=120)]
    for p in procs:
        p.join()
    return statistics.median(latencies) * 1000, len(latencies) / SECONDS


def main() -> None:
    targets = {"single server": f"dbname={sys.argv[1]}", "Citus (coordinator + 2 workers)": sys.argv[2]}
    setups = {name: prepare(dsn) for name, dsn in targets.items()}
    results = {}
    for op in OPS:
        for clients in CLIENTS:
            per = {name: [] for name in targets}
            for r in range(ROUNDS):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    per[name].append(measure(targets[name], op, clients, setups[name]))
            for name, rounds in per.items():
                lat = statistics.median(x[0] for x in rounds)
                thr = statistics.median(x[1] for x in rounds)
                results[(op, clients, name)] = (lat, thr)
            single, citus = results[(op, clients, "single server")], results[(op, clients, "Citus (coordinator + 2 workers)")]
            print(f"{op:28s} {clients:2d} clients: single {single[0]:7.2f} ms {single[1]:8.0f}/s | "
                  f"Citus {citus[0]:7.2f} ms {citus[1]:8.0f}/s | latency x{citus[0] / single[0]:.1f}", flush=True)
    print()
    print("| operation | clients | single server: ms per call | calls/s | Citus: ms per call | calls/s | Citus latency / single |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for op in OPS:
        for clients in CLIENTS:
            s, c = results[(op, clients, "single server")], results[(op, clients, "Citus (coordinator + 2 workers)")]
            print(f"| {op} | {clients} | {s[0]:.2f} | {s[1]:,.0f} | {c[0]:.2f} | {c[1]:,.0f} | {c[0] / s[0]:.1f}x |")


if __name__ == "__main__":
    main()
