"""make bench, part 3: per-step cost of logging from Python (pgtrack.Run.add_metrics).

1. Buffered (inside run.track(), default max_rows=500) against COPY of the same rows in chunks of
   500 from Python (text format, as a person writes it). Target: <= 1.2x COPY per row.
2. Unbuffered (Run(..., buffer=False) inside track(): one typed statement per step, pgtrack._step)
   against the hand-written statement of bench/metrics_bench.py sent from psycopg per step. Target:
   <= 1.1x. Each round includes the run's start and stop (about 12 ms: compare.py times the steps only).
20,000 steps x 4 metrics per variant, interleaved rounds on the same server, median ratio reported.
"""
from __future__ import annotations

import pgtrack
from common import connect, interleave, report_ratio
from metrics_bench import HAND_WRITTEN, METRICS, ROUNDS, ROWS, copy_metrics, values

PER_ROUND = ROWS // ROUNDS  # unbuffered steps per round (a commit each; PGTRACK_BENCH_SCALE scales them)
BUFFERED_PER_ROUND = 4_000  # buffered steps per round, at every scale: eight flushes, so the start and end
                            # of track() do not dominate
CHUNK = 500


def main() -> None:
    conn = connect()
    client = pgtrack.Client(dbname=conn.info.dbname)
    for name in METRICS:
        client.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = pgtrack.Experiment(client, name="bench-python")

    def logged(buffer: bool):
        steps = BUFFERED_PER_ROUND if buffer else PER_ROUND

        def variant(r: int) -> None:
            run = exp.get_run(buffer=buffer)
            with run.track():
                for step in range(steps):
                    run.add_metrics(step=step, **values(step))
        return variant

    def copy_rows(r: int) -> None:
        copy_metrics(conn, exp.get_run().id, BUFFERED_PER_ROUND, CHUNK)

    def hand_rows(r: int) -> None:
        run = exp.get_run().id
        for step in range(PER_ROUND):
            conn.execute(HAND_WRITTEN, {"run": run, "step": step, **values(step)})

    print(f"Python Run.add_metrics, buffered, vs COPY (chunks of {CHUNK}): {BUFFERED_PER_ROUND * ROUNDS} steps x "
          f"{len(METRICS)} metrics, {ROUNDS} interleaved rounds")
    logged(True)(0), copy_rows(0)
    times = interleave(ROUNDS, {"Run.add_metrics (buffered)": logged(True), "COPY": copy_rows})
    report_ratio("buffered", times, "Run.add_metrics (buffered)", "COPY", BUFFERED_PER_ROUND, 1.2)

    print(f"\nPython Run.add_metrics, unbuffered, vs the hand-written statement: {ROWS} steps, {ROUNDS} rounds")
    logged(False)(0), hand_rows(0)
    times = interleave(ROUNDS, {"Run.add_metrics (buffer=False)": logged(False), "hand-written CTE statement": hand_rows})
    report_ratio("unbuffered", times, "Run.add_metrics (buffer=False)", "hand-written CTE statement", PER_ROUND, 1.1)


if __name__ == "__main__":
    main()
