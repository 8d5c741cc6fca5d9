"""A resume-safe sweep: every configuration of the grid is one run, whichever worker gets it.

    python sweep.py [--workers N]

The grid is shared out among N worker processes (worker i takes every N-th configuration). Each
configuration runs inside ``run_lifecycle``: claimed, marked running, then completed with its metrics,
or failed with the error's first line if training raises. Its checkpoints go to
``store.artefacts_dir(h.run)``, the same directory on every attempt. Run the sweep again after a crash or
a failure: completed configurations raise AlreadyCompleted and are skipped, failed ones run again.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import socket
from itertools import product
from pathlib import Path

from wallow import Store, load_schema
from wallow.contrib.lifecycle import AlreadyCompleted, run_lifecycle

HERE = Path(__file__).parent
SCHEMA = HERE / "wallow.toml"
DB = HERE / "runs.db"


def grid() -> list:
    return [{"architecture": architecture, "optimiser": "adamw", "learning_rate": lr, "batch_size": 64, "seed": seed}
            for architecture, lr, seed in product(["mlp", "resnet18", "vit_small"], [1e-3, 3e-4], [0, 1])]


class Diverged(RuntimeError):
    pass


def train(combo: dict, directory: Path) -> dict:
    """Stands in for training: a curve that depends only on the configuration, a checkpoint file. The
    mlp at lr 1e-3, seed 1, diverges on its first attempt (a file in its directory remembers it), as a
    job that hit a bad node would."""
    attempted = directory / "attempted"
    flaky = combo["architecture"] == "mlp" and combo["learning_rate"] == 1e-3 and combo["seed"] == 1
    if flaky and not attempted.exists():
        attempted.write_text("1")
        raise Diverged("loss is NaN at epoch 3")
    rng = random.Random(json.dumps(combo, sort_keys=True))
    ceiling = {"mlp": 0.70, "resnet18": 0.80, "vit_small": 0.86}[combo["architecture"]]
    penalty = 20 * abs(combo["learning_rate"] - 3e-4)
    curve = [round(ceiling - penalty - 0.2 * math.exp(-epoch) + rng.uniform(-0.01, 0.01), 4) for epoch in range(5)]
    best = max(range(len(curve)), key=curve.__getitem__)
    checkpoint = directory / f"epoch_{best}.pt"
    checkpoint.write_bytes(b"weights")
    return {"checkpoint": str(checkpoint), "val_accuracy": curve[-1], "val_loss": round(1 - curve[-1], 4), "curve": curve}


def work(worker: int, workers: int) -> dict:
    store = Store(DB, schema=load_schema(SCHEMA))
    counts = {"trained": 0, "failed": 0, "already complete": 0}
    for combo in grid()[worker::workers]:
        try:
            with run_lifecycle(store, identifying=combo, start_annotating={"host": socket.gethostname()}) as h:
                result = train(combo, store.artefacts_dir(h.run, mkdir=True))
                h.finalise(annotating={
                    "best_checkpoint": result["checkpoint"],
                    "val_loss": result["val_loss"],
                    "val_accuracy": result["val_accuracy"],
                    "training_curve": result["curve"],
                })
            counts["trained"] += 1
        except AlreadyCompleted:
            counts["already complete"] += 1
        except Diverged:
            counts["failed"] += 1  # run_lifecycle has written status failed and error_excerpt
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    Store(DB, schema=load_schema(SCHEMA))  # open the registry once before the workers start (wallow's advice)
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = pool.starmap(work, [(worker, args.workers) for worker in range(args.workers)])
    total = {key: sum(result[key] for result in results) for key in results[0]}
    print(f"sweep: {len(grid())} combos, {total['trained']} trained, {total['failed']} failed, "
          f"{total['already complete']} already complete")


if __name__ == "__main__":
    main()
