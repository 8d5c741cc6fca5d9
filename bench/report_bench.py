"""make bench, part 4: the HTML report and the analysis functions on a large experiment.

500 runs x 1,000 steps x 3 metrics (1.5 million values; PGTRACK_BENCH_SCALE=0.1 for a tenth), loaded
through run_add_metrics_batch. Then: the time to write the report (median of 3) and its size; the
time of best_runs, final_metrics of one run, experiment_summary and metric_curves (median of 5); and
the plans of the statements inside them (auto_explain, nested statements), for docs/design.md.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

import pgtrack
from pgtrack.report import write_report

SCALE = float(os.environ.get("PGTRACK_BENCH_SCALE", "1"))
RUNS, STEPS = max(2, int(500 * SCALE)), max(10, int(1000 * SCALE))


def median_seconds(fn, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    client = pgtrack.Client()
    for name in ("train_loss", "val_loss", "val_acc"):
        client.execute("SELECT pgtrack.add_metric(%s)", (name,))
    exp = pgtrack.Experiment(client, name="bench-report")
    exp.declare_identifying("lr", "float")
    exp.declare_identifying("width", "int")
    other = pgtrack.Experiment(client, name="bench-report-other")  # another experiment's data, to be skipped
    start = time.perf_counter()
    exp.enqueue({"lr": 10 ** (-1 - (i % 10) / 3), "width": 16 * (1 + i // 10)} for i in range(RUNS))
    run_ids = [r[0] for r in client.execute("SELECT id FROM pgtrack.runs WHERE experiment_id = %s ORDER BY id", (exp.id,))]
    for n, run_id in enumerate(run_ids + [other.get_run().id for _ in range(RUNS // 10)]):
        run = pgtrack.Run._bind(client, run_id)
        rows = [{"step": s, "train_loss": 1 / (s + 1) + n * 1e-4, "val_loss": 1.2 / (s + 1) + (n % 7) * 1e-3,
                 "val_acc": 1 - 1 / (s + 2)} for s in range(STEPS)]
        run._write_batch(rows)
    client.execute("ANALYZE pgtrack.runs, pgtrack.metrics")
    load = time.perf_counter() - start
    values = RUNS * STEPS * 3
    print(f"loaded {RUNS} runs x {STEPS} steps x 3 metrics = {values:,} values in {load:.1f} s "
          f"({load / (RUNS * STEPS) * 1e6:.1f} us per row), plus {RUNS // 10} runs of another experiment")

    out = tempfile.mkdtemp()
    info = None

    def report():
        nonlocal info
        info = write_report(client, exp.id, os.path.join(out, "report.html"))

    seconds = median_seconds(report, 3)
    print(f"report: {seconds:.2f} s (median of 3), {info.bytes / 1e6:.2f} MB, {info.runs} runs, {info.charts} charts")
    for label, sql, params in [
        ("best_runs(val_loss)", "SELECT count(*) FROM pgtrack.best_runs(%s, 'val_loss')", (exp.id,)),
        ("final_metrics(one run)", "SELECT count(*) FROM pgtrack.final_metrics(%s)", (run_ids[-1],)),
        ("experiment_summary", "SELECT count(*) FROM pgtrack.experiment_summary(%s)", (exp.id,)),
        ("metric_curves(val_loss, 100 buckets)", "SELECT count(*) FROM pgtrack.metric_curves(%s, 'val_loss', 100)", (exp.id,)),
    ]:
        t = median_seconds(lambda: client.execute(sql, params), 5)
        print(f"{label:<40} {t * 1000:8.1f} ms (median of 5)")

    conn = client._connection()
    plans = []
    conn.add_notice_handler(lambda d: plans.append(d.message_primary))
    client.execute("LOAD 'auto_explain'")
    for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                    "auto_explain.log_analyze = on", "auto_explain.log_timing = off", "auto_explain.log_level = notice",
                    "client_min_messages = notice"):
        client.execute(f"SET {setting}")
    for sql, params in [("SELECT count(*) FROM pgtrack.best_runs(%s, 'val_loss')", (exp.id,)),
                        ("SELECT count(*) FROM pgtrack.final_metrics(%s)", (run_ids[-1],)),
                        ("SELECT count(*) FROM pgtrack.experiment_summary(%s)", (exp.id,))]:
        plans.clear()
        client.execute(sql, params)
        inner = [p for p in plans if "FROM pgtrack.metrics m" in p] or [p for p in plans if "pgtrack.runs r" in p]
        print("\n--- plan of the statement inside " + sql.split("FROM ")[1].split("(")[0])
        print(inner[0] if inner else "\n".join(plans))


if __name__ == "__main__":
    main()
