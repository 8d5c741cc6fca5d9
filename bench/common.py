"""Benchmark helpers: interleaved rounds on one connection, medians of per-round ratios.

The machine is shared and noisy, so absolute times mean little: each round runs every variant on the
same connection back to back (in alternating order) and the ratio of each round is recorded; the
report is the median over rounds.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable, Dict, List

import psycopg

SCALE = float(os.environ.get("PGTRACK_BENCH_SCALE", "1"))  # make bench's quick run: 0.1


def scaled(n: int, minimum: int = 1) -> int:
    return max(minimum, int(n * SCALE))


def connect() -> psycopg.Connection:
    return psycopg.connect(dbname=os.environ.get("PGDATABASE", "pgtrack"), autocommit=True)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(rounds: int, variants: Dict[str, Callable[[int], object]]) -> Dict[str, List[float]]:
    """Run each variant once per round (variant(round) does that round's work); seconds per round."""
    names = list(variants)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for name in order:
            times[name].append(timed(lambda: variants[name](r)))
    return times


def report_ratio(label: str, times: Dict[str, List[float]], ours: str, baseline: str, per: int, target: float) -> float:
    ratios = [a / b for a, b in zip(times[ours], times[baseline])]
    median = statistics.median(ratios)
    for name in (ours, baseline):
        per_call = statistics.median(times[name]) / per * 1e6
        print(f"  {name:<38} {per_call:9.1f} us/row   (median of {len(times[name])} rounds)")
    verdict = "OK" if median <= target else "ABOVE TARGET"
    print(f"  ratio {ours} / {baseline}: median {median:.2f}x  (rounds: {', '.join(f'{x:.2f}' for x in ratios)})"
          f"  target <= {target}x  {verdict}")
    return median
