"""make demo: a deduplicated sweep drained by worker processes, one of them killed midway.

    python examples/sweep.py [--workers 4] [--stale-after 3]     # connection: libpq environment / pgtrack.conf

1. Declares the sweep's identifying fields and enqueues a 4 x 3 x 2 grid (24 configurations) once;
   enqueueing it again with float noise adds nothing.
2. Starts worker processes (``python examples/sweep.py --worker NAME``). Each loops on
   ``claim_next``, trains a small numpy MLP on synthetic data and logs per-epoch metrics through
   ``Run.track`` (buffered, with a background heartbeat).
3. Kills one worker with SIGKILL while it trains; its run stops heartbeating, goes stale after
   ``stale_after`` and another worker claims it again (attempt 2).
4. Prints the best configurations from one SQL query.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import numpy as np

import pgtrack

EXPERIMENT = "sweep-demo"
EPOCHS = 8
GRID = [{"lr": lr, "hidden": hidden, "seed": seed}
        for lr in (0.3, 0.1, 0.03, 0.01) for hidden in (4, 16, 64) for seed in (0, 1)]


def setup(client: pgtrack.Client) -> pgtrack.Experiment:
    client.execute("SELECT pgtrack.add_metric('train_loss'), pgtrack.add_metric('val_loss'), "
                   "pgtrack.add_metric('val_acc', 'real', 'validation accuracy')")
    exp = pgtrack.Experiment(client, name=EXPERIMENT, comment="MLP sweep over lr x hidden x seed")
    exp.declare_identifying("lr", "float", doc="learning rate")
    exp.declare_identifying("hidden", "int", doc="hidden units")
    exp.declare_identifying("seed", "int", default=0, doc="random seed")
    added = exp.enqueue(GRID)
    again = exp.enqueue([{"lr": 0.1 + 1e-17, "hidden": 4}, {"lr": 0.30000000000000004, "hidden": 64, "seed": 1}])
    print(f"enqueued {added} configurations; enqueueing 2 again (float noise, default seed) added {again}")
    return exp


def data(seed: int = 1234):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 10))
    y = (np.sin(x[:, 0] * 2) + x[:, 1] * x[:, 2] > 0).astype(float)
    return x[:480], y[:480], x[480:], y[480:]


def train(run: pgtrack.Run, lr: float, hidden: int, seed: int, epoch_seconds: float) -> None:
    """A one-hidden-layer MLP with full-batch gradient descent; metrics every epoch."""
    xt, yt, xv, yv = data()
    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(scale=0.5, size=(10, hidden)), rng.normal(scale=0.5, size=hidden)

    def forward(x):
        h = np.tanh(x @ w1)
        return h, 1 / (1 + np.exp(-(h @ w2)))

    def loss(p, y):
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    for epoch in range(1, EPOCHS + 1):
        for _ in range(25):
            h, p = forward(xt)
            grad_out = (p - yt) / len(yt)
            grad_w2 = h.T @ grad_out
            grad_w1 = xt.T @ (np.outer(grad_out, w2) * (1 - h ** 2))
            w1 -= lr * 10 * grad_w1
            w2 -= lr * 10 * grad_w2
        _, pv = forward(xv)
        run.add_metrics(step=epoch, progress=epoch / EPOCHS, train_loss=loss(forward(xt)[1], yt),
                        val_loss=loss(pv, yv), val_acc=float(np.mean((pv > 0.5) == yv)))
        time.sleep(epoch_seconds)  # stands in for a real epoch, so the sweep lasts a few seconds


def worker(name: str, stale_after: float, epoch_seconds: float) -> None:
    client = pgtrack.Client()
    exp = pgtrack.Experiment(client, name=EXPERIMENT)
    stale = dt.timedelta(seconds=stale_after)
    while True:
        run = exp.claim_next(stale, worker=name)
        if run is None:
            left = client.value("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = %s AND status <> 'COMPLETED'",
                                (exp.id,))
            if left == 0:
                return
            time.sleep(0.2)  # others are still training (or dead: their runs go stale and come back here)
            continue
        print(f"{name} claimed run {run.id} attempt {run.attempt} "
              f"lr={run.lr} hidden={run.hidden} seed={run.seed}", flush=True)
        with run.track(heartbeat=stale_after / 4):
            train(run, run.lr, run.hidden, run.seed, epoch_seconds)


BEST = """
SELECT r.id AS run, (r.identity ->> 'lr')::float8 AS lr, (r.identity ->> 'hidden')::int AS hidden,
       (r.identity ->> 'seed')::int AS seed, round(b.val_loss::numeric, 4) AS best_val_loss, b.step AS at_epoch,
       round(b.val_acc::numeric, 3) AS val_acc, r.attempt, r.worker,
       round(extract(epoch FROM r.time_finished - r.time_started)::numeric, 2) AS seconds
  FROM pgtrack.runs r
  CROSS JOIN LATERAL (SELECT m.val_loss, m.val_acc, m.step FROM pgtrack.metrics m
                       WHERE m.run_id = r.id AND m.val_loss IS NOT NULL ORDER BY m.val_loss LIMIT 1) b
 WHERE r.experiment_id = %s AND r.status = 'COMPLETED'
 ORDER BY b.val_loss LIMIT 5
"""


def print_table(header, rows) -> None:
    cells = [[str(v) for v in header]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stale-after", type=float, default=3.0, help="seconds without heartbeat before a claim")
    parser.add_argument("--epoch-seconds", type=float, default=0.05)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        return worker(opts.worker, opts.stale_after, opts.epoch_seconds)

    start = time.monotonic()
    client = pgtrack.Client()
    exp = setup(client)
    procs = {f"worker-{i}": subprocess.Popen(
        [sys.executable, __file__, "--worker", f"worker-{i}", "--stale-after", str(opts.stale_after),
         "--epoch-seconds", str(opts.epoch_seconds)], stdout=subprocess.PIPE, text=True)
        for i in range(1, opts.workers + 1)}
    victim, seen, killed_run = "worker-2", 0, None
    for line in procs[victim].stdout:  # let it finish one run, then kill it in the middle of the next
        print(line, end="")
        seen += 1
        if seen == 2:
            time.sleep(opts.epoch_seconds * EPOCHS / 2)
            killed_run = int(line.split()[3])
            procs[victim].send_signal(signal.SIGKILL)
            print(f"*** killed {victim} with SIGKILL while it trained run {killed_run}; "
                  f"it will be claimed again after {opts.stale_after:g} s without heartbeat", flush=True)
            break
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        print(out, end="")
    status, attempt, by = client.one("SELECT status::text, attempt, worker FROM pgtrack.runs WHERE id = %s", (killed_run,))
    print(f"\nrun {killed_run} (killed midway): {status}, attempt {attempt}, finished by {by}")
    total, done, rows = client.one(
        "SELECT count(*), count(*) FILTER (WHERE status = 'COMPLETED'), (SELECT count(*) FROM pgtrack.metrics m "
        "JOIN pgtrack.runs r ON r.id = m.run_id WHERE r.experiment_id = %s) FROM pgtrack.runs WHERE experiment_id = %s",
        (exp.id, exp.id))
    print(f"{done} of {total} configurations completed, {rows} metric rows, {time.monotonic() - start:.1f} s\n")
    print("best configurations by validation loss (one SQL query, examples/sweep.py BEST):")
    print_table(["run", "lr", "hidden", "seed", "best_val_loss", "at_epoch", "val_acc", "attempt", "worker", "seconds"],
                client.execute(BEST, (exp.id,)))


if __name__ == "__main__":
    main()
