"""Run fn(conn, index, *args) in N separate OS processes that start their calls at the same moment.

Each process opens its own connection, waits on a barrier, then makes its call; the result (or the
SQLSTATE of the error) comes back to the parent. Races are exercised for real, not by reasoning.
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Any, Callable, List, Sequence

import psycopg

_ctx = mp.get_context("fork")


def _child(dbname: str, fn: Callable, args: Sequence[Any], barrier, queue, index: int) -> None:
    try:
        with psycopg.connect(dbname=dbname, autocommit=True) as conn:
            conn.execute("SELECT 1")
            barrier.wait(timeout=60)
            queue.put((index, "ok", fn(conn, index, *args)))
    except psycopg.Error as exc:
        queue.put((index, "error", exc.sqlstate))
    except BaseException as exc:  # report anything else instead of hanging the parent
        queue.put((index, "error", repr(exc)))


def run_parallel(dbname: str, fn: Callable, n: int, args: Sequence[Any] = (), timeout: float = 120) -> List[tuple]:
    """[(status, value)] for each of n processes, in process order; status is 'ok' or 'error'."""
    barrier = _ctx.Barrier(n)
    queue = _ctx.Queue()
    procs = [_ctx.Process(target=_child, args=(dbname, fn, args, barrier, queue, i)) for i in range(n)]
    for proc in procs:
        proc.start()
    results = dict()
    for _ in procs:
        index, status, value = queue.get(timeout=timeout)
        results[index] = (status, value)
    for proc in procs:
        proc.join(timeout=timeout)
    return [results[i] for i in range(n)]
