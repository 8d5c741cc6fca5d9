"""make bench, part 2: registry throughput.

1. register() with 10,000 new keys, then the same 10,000 keys again (return_existing hits), against
   the equivalent hand-written get-or-insert statement (INSERT ... ON CONFLICT DO NOTHING RETURNING,
   falling back to a SELECT of the existing row) on the same connection; interleaved rounds, each
   variant in its own experiment with the same fields and keys. Both pay the identity trigger.
2. claim_next throughput with 1, 2, 4 and 8 worker processes draining a queue (claim, then stop).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time

from psycopg.types.json import Jsonb

from common import connect, interleave, report_ratio, scaled

KEYS = scaled(10_000, 500)
ROUNDS = 5
PER_ROUND = KEYS // ROUNDS
QUEUE = scaled(2_000, 400)

HAND_WRITTEN = """
WITH ins AS (
    INSERT INTO pgtrack.runs (experiment_id, identity) VALUES (%(exp)s, %(key)s)
    ON CONFLICT ON CONSTRAINT runs_identity_key DO NOTHING RETURNING id)
SELECT id FROM ins
UNION ALL
SELECT id FROM pgtrack.runs WHERE experiment_id = %(exp)s AND identity = %(key)s
LIMIT 1
"""


def key(i: int) -> Jsonb:
    return Jsonb({"lr": round(0.0001 * (i + 1), 6), "seed": i % 7, "model": f"m{i % 3}"})


def experiment(conn, name: str) -> int:
    exp = conn.execute("SELECT pgtrack.experiment(%s)", (name,)).fetchone()[0]
    for field, kind in (("lr", "float"), ("seed", "int"), ("model", "string")):
        conn.execute("SELECT pgtrack.declare_identifying(%s, %s, %s)", (exp, field, kind))
    return exp


def register_phase(conn, label: str) -> None:
    ours, theirs = experiment(conn, f"reg-{label}-pgtrack"), experiment(conn, f"reg-{label}-hand")

    def pgtrack_calls(r: int) -> None:
        for i in range(r * PER_ROUND, (r + 1) * PER_ROUND):
            conn.execute("SELECT run_id FROM pgtrack.register(%s, %s, on_duplicate => 'return_existing')", (ours, key(i)))

    def hand_calls(r: int) -> None:
        for i in range(r * PER_ROUND, (r + 1) * PER_ROUND):
            conn.execute(HAND_WRITTEN, {"exp": theirs, "key": key(i)})

    print(f"register: {KEYS} new keys, then the same keys again (return_existing hits), {ROUNDS} interleaved rounds")
    for phase in ("new keys", "existing keys"):
        times = interleave(ROUNDS, {"pgtrack.register": pgtrack_calls, "hand-written INSERT ON CONFLICT": hand_calls})
        print(f" {phase}: {KEYS / sum(times['pgtrack.register']):,.0f} register calls/s")
        report_ratio(phase, times, "pgtrack.register", "hand-written INSERT ON CONFLICT", PER_ROUND, 1.5)


def _worker(exp: int, index: int, counts) -> None:
    conn = connect()
    claimed = 0
    while True:
        run, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '10 minutes', %s)",
                                    (exp, f"w{index}")).fetchone()
        if run is None:
            break
        conn.execute("SELECT pgtrack.run_stop(%s, 'COMPLETED', attempt => %s)", (run, attempt))
        claimed += 1
    counts[index] = claimed


def claim_phase(conn) -> None:
    print(f"\nclaim_next: {QUEUE} queued runs drained by N worker processes (claim_next + run_stop each)")
    ctx = mp.get_context("fork")
    for workers in (1, 2, 4, 8):
        exp = experiment(conn, f"claim-{workers}")
        conn.execute("SELECT pgtrack.enqueue(%s, %s)", (exp, Jsonb([key(i).obj for i in range(QUEUE)])))
        counts = ctx.Array("i", workers)
        procs = [ctx.Process(target=_worker, args=(exp, i, counts)) for i in range(workers)]
        start = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - start
        assert sum(counts) == QUEUE, list(counts)
        print(f"  {workers} worker(s): {QUEUE / elapsed:8,.0f} claims/s  (per worker: {list(counts)})")


def main() -> None:
    conn = connect()
    register_phase(conn, str(os.getpid()))
    claim_phase(conn)


if __name__ == "__main__":
    main()
