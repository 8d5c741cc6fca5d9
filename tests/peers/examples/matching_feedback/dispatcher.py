"""Registers the candidates of a small grid, resume-safe, with wallow's two-call pattern: a
``return_existing`` register claims the candidate or reads it back, a completed one is skipped, and an
``overwrite`` register records the metrics after "training".

    python dispatcher.py                     # the grid of wallow.toml's fields
    python dispatcher.py --warmup 0 100      # once the schema has warmup_steps (wallow_v2.toml)
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import socket
from itertools import product
from pathlib import Path

from wallow import Store, load_schema, register

HERE = Path(__file__).parent


def fake_train(identifying: dict) -> tuple:
    """Stands in for the inner loop: (val_loss, val_accuracy, seconds), a function of the candidate."""
    rng = random.Random("-".join(str(identifying[k]) for k in sorted(identifying)))
    val_loss = 1 / math.sqrt(identifying["cell_k"]) + identifying["cell_sigma"] - identifying.get("warmup_steps", 0) / 2000
    val_loss = max(0.0, val_loss + rng.uniform(-0.05, 0.05))
    return val_loss, max(0.0, min(1.0, 1 - val_loss)), 30 + rng.uniform(0, 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, nargs="*", help="warmup_steps values (needs the field in wallow.toml)")
    args = parser.parse_args()
    store = Store(HERE / "runs.db", schema=load_schema(HERE / "wallow.toml"))

    new = done = 0
    for cell_k, cell_sigma, generation, candidate_id, warmup in product([2, 4, 8], [0.05, 0.1], [0, 1], range(4), args.warmup or [None]):
        identifying = {"cell_k": cell_k, "cell_sigma": cell_sigma, "generation": generation, "candidate_id": candidate_id}
        if warmup is not None:
            identifying["warmup_steps"] = warmup
        result = register(
            store,
            identifying=identifying,
            annotating={"status": "running", "host": socket.gethostname(), "git_commit": "deadbeef",
                        "started_at": dt.datetime.now(dt.timezone.utc)},
            on_duplicate="return_existing",
        )
        if result.run.status == "completed":
            done += 1
            continue
        val_loss, val_accuracy, seconds = fake_train(identifying)
        register(
            store,
            identifying=identifying,
            annotating={"status": "completed", "val_loss": val_loss, "val_accuracy": val_accuracy, "wall_clock_sec": seconds,
                        "discovered_T": {f"T_{cell_k}{cell_k}": round(val_accuracy, 3)}},
            on_duplicate="overwrite",
        )
        new += 1
    print(f"dispatch: {new} new, {done} already done")


if __name__ == "__main__":
    main()
