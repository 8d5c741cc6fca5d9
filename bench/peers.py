"""Helpers for bench/compare.py: databases on the benchmark cluster, interleaved rounds, results.

Each scenario runs its variants side by side in one process run: every round runs each variant once
(order rotated between rounds), and a variant's figure is the median over rounds. The machine is
shared and noisy; ratios of medians measured together are what the tables report.
"""
from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from typing import Callable, Dict, List

import psycopg

from common import SCALE, scaled  # noqa: F401 (the scenarios import them from here)

ROUNDS = int(os.environ.get("PGTRACK_BENCH_ROUNDS", "5"))
HOST, PORT = os.environ.get("PGHOST", ""), os.environ.get("PGPORT", "5432")


def new_database(prefix: str, pgtrack: bool = True) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    if pgtrack:
        with psycopg.connect(dbname=name, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pgtrack")
            conn.execute("SELECT pgtrack.setup()")
    return name


def sqlalchemy_url(dbname: str) -> str:
    return f"postgresql+psycopg2://{os.environ.get('PGUSER', 'postgres')}@/{dbname}?host={HOST}&port={PORT}"


def interleave(rounds: int, variants: Dict[str, Callable[[int], float]]) -> Dict[str, List[float]]:
    """variant(round) does that round's work and returns its per-unit cost; costs per variant. Each round
    runs the variants in an order of its own, shuffled with the round as seed (runs repeat): in a fixed
    or rotated order every variant follows the same one each round and pays for its after-effects (most
    likely the dirty pages of a variant that wrote 20,000 rows, written back while the next one waits for
    its commits' fsyncs): unbuffered logging, always right after the buffered variant, measured 1.54x the
    hand-written statement; shuffled, 1.07x; alone with it in a quiet A/B, 1.02x."""
    names = list(variants)
    costs: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = list(names)
        random.Random(r).shuffle(order)
        for name in order:
            costs[name].append(variants[name](r))
    return costs


# A committing variant varies by +-7% from round to round (the fsync); the quick run keeps to 5 minutes.
PAIR_ROUNDS = max(ROUNDS, 11) if SCALE >= 1 else 3


def pair_ratio(ours: Callable[[int], float], theirs: Callable[[int], float], first_round: int = 0):
    """A ratio target measured on its two variants alone, interleaved over PAIR_ROUNDS rounds (numbered
    from first_round, so variants that need fresh work per round get it): the median of the rounds'
    ratios, in which a drift of the machine cancels, and the costs per round. Among all of a scenario's
    variants a pair also pays for what the others leave behind (write-back, autovacuum, W&B's service
    process): the unbuffered step's ratio swung from 1.02x to 1.16x between runs of the same code."""
    pair = interleave(PAIR_ROUNDS, {"ours": lambda r: ours(first_round + r), "theirs": lambda r: theirs(first_round + r)})
    return statistics.median([a / b for a, b in zip(pair["ours"], pair["theirs"])]), pair


def pair_target(label: str, alone: float, among: float, limit: float) -> str:
    """The results line of a ratio target judged on its pair alone (pair_ratio), with the figure among
    all of the scenario's variants beside it."""
    return (f"- target {label}: {alone:.3f}x with the two alone ({PAIR_ROUNDS} interleaved rounds, median ratio) "
            f"({among:.2f}x among all the variants above) -> {'met' if alone <= limit else 'MISSED'} (<= {limit}x)")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: List[float]) -> float:
    return statistics.median(values)


class Results:
    """Tables for results.md and raw numbers for results.json."""

    def __init__(self) -> None:
        self.sections: List[dict] = []

    def table(self, title: str, columns: List[str], rows: List[list], notes: str = "", raw: object = None) -> None:
        self.sections.append({"title": title, "columns": columns, "rows": rows, "notes": notes, "raw": raw})
        widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns)] if rows else []
        print(f"\n## {title}")
        print("  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
        for row in rows:
            print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
        if notes:
            print(notes)

    def markdown(self, header: str) -> str:
        out = [header]
        for s in self.sections:
            out.append(f"\n## {s['title']}\n")
            out.append("| " + " | ".join(s["columns"]) + " |")
            out.append("|" + "---|" * len(s["columns"]))
            out.extend("| " + " | ".join(str(v) for v in row) + " |" for row in s["rows"])
            if s["notes"]:
                out.append("\n" + s["notes"])
        return "\n".join(out) + "\n"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"
