"""make bench, part 1: cost of logging metrics through pgtrack against hand-written SQL.

1. run_add_metrics, one call per row, against one hand-written statement per row (a data-modifying
   CTE that touches runs.time_updated and upserts the metrics row), same connection.
2. run_add_metrics_batch in chunks of 1,000 rows against COPY of the same rows.
20,000 rows per variant, interleaved rounds, median ratio reported.
"""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from common import connect, interleave, report_ratio, scaled

ROWS = scaled(20_000, 1_000)
ROUNDS = 5
PER_ROUND = ROWS // ROUNDS
METRICS = ("train_loss", "val_loss", "acc", "lr")

HAND_WRITTEN = """
WITH touched AS (UPDATE pgtrack.runs SET time_updated = clock_timestamp() WHERE id = %(run)s RETURNING id, experiment_id)
INSERT INTO pgtrack.metrics AS m (run_id, experiment_id, step, progress, train_loss, val_loss, acc, lr)
SELECT id, experiment_id, %(step)s, 0, %(train_loss)s, %(val_loss)s, %(acc)s, %(lr)s FROM touched
ON CONFLICT (run_id, step, progress) DO UPDATE
   SET train_loss = EXCLUDED.train_loss, val_loss = EXCLUDED.val_loss, acc = EXCLUDED.acc, lr = EXCLUDED.lr
"""


def values(step: int) -> dict:
    return {"train_loss": 1.0 / (step + 1), "val_loss": 1.5 / (step + 1), "acc": step / ROWS, "lr": 0.1}


def copy_metrics(conn: psycopg.Connection, run: int, steps: int, chunk: int) -> None:
    """The physical limit: COPY of the same rows, one COPY (and commit) per chunk."""
    experiment = conn.execute("SELECT experiment_id FROM pgtrack.runs WHERE id = %s", (run,)).fetchone()[0]
    for start in range(0, steps, chunk):
        with conn.cursor().copy("COPY pgtrack.metrics (run_id, experiment_id, step, progress, train_loss, val_loss, acc, lr) "
                                "FROM STDIN") as copy:
            for s in range(start, start + chunk):
                v = values(s)
                copy.write_row((run, experiment, s, 0.0, v["train_loss"], v["val_loss"], v["acc"], v["lr"]))


def main() -> None:
    conn = connect()
    for name in METRICS:
        conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = conn.execute("SELECT pgtrack.experiment('bench-metrics')").fetchone()[0]

    def new_run() -> int:
        return conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]

    def pgtrack_rows(r: int) -> None:
        run = new_run()
        for step in range(PER_ROUND):
            conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, %s)", (run, step, Jsonb(values(step))))

    def hand_rows(r: int) -> None:
        run = new_run()
        for step in range(PER_ROUND):
            conn.execute(HAND_WRITTEN, {"run": run, "step": step, **values(step)})

    print(f"run_add_metrics vs hand-written statement: {ROWS} rows each, {ROUNDS} interleaved rounds")
    pgtrack_rows(0), hand_rows(0)  # warm up plans and caches
    times = interleave(ROUNDS, {"pgtrack.run_add_metrics": pgtrack_rows, "hand-written CTE statement": hand_rows})
    report_ratio("single", times, "pgtrack.run_add_metrics", "hand-written CTE statement", PER_ROUND, 1.1)
    print("  (the SQL function takes the metrics as jsonb: about 1.13x the same statement before it checks anything,\n"
          "   docs/design.md; the Python client's unbuffered step is the typed statement: python_bench.py, compare.py)")

    chunk = 1_000

    def batch_rows(r: int) -> None:
        run = new_run()
        for start in range(0, PER_ROUND, chunk):
            rows = [{"step": s, **values(s)} for s in range(start, start + chunk)]
            conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s)", (run, Jsonb(rows)))

    def copy_rows(r: int) -> None:
        copy_metrics(conn, new_run(), PER_ROUND, chunk)

    print(f"\nrun_add_metrics_batch (chunks of {chunk}) vs COPY: {ROWS} rows each, {ROUNDS} interleaved rounds")
    batch_rows(0), copy_rows(0)
    times = interleave(ROUNDS, {"pgtrack.run_add_metrics_batch": batch_rows, "COPY": copy_rows})
    report_ratio("batch", times, "pgtrack.run_add_metrics_batch", "COPY", PER_ROUND, 1.3)


if __name__ == "__main__":
    main()
