"""One unbuffered metrics step as one typed statement: the fast path of ``add_metrics(buffer=False)``.

``run_add_metrics`` takes the metrics as jsonb, and a PL/pgSQL function taking jsonb costs about 1.13x
the same statement sent by hand before it checks anything (docs/design.md, "Where the time goes"). So
when a step qualifies (every name a double precision column on one server, every value a float, an
int or None, outside ``client.connect()``) the client sends the statement the server wrote for that set
of names (``pgtrack._metrics_statement``, fetched once per set: pgtrack.MetricColumns): the first
write of ``_metrics_write``, built from the same SQL piece, so the fence (the touch of the run with
the caller's attempt and experiment, holding its row lock to commit) is written once, in SQL. The row
is an upsert that merges (None keeps a stored value), so a retried step is idempotent; one statement in
autocommit, written and durable when the call returns, or not at all. Every operator and type in it is
named with its schema (tests/python/security/test_search_path.py).

When the statement writes no row (lost lease, no such run, another experiment: nothing at all; a column
retyped since the names were cached: the run's time_updated is touched, no row written) or the server
refuses it, the caller calls ``run_add_metrics``, which writes the step (converting a value to the new
type) or says why it cannot.
"""
from __future__ import annotations

from typing import Any, Dict, Set

import psycopg
from psycopg import pq
from psycopg.types.numeric import Int8

from ._columns import MetricColumns
from ._lease import Lease

_NUMBERS = (float, int)
_IDLE = pq.TransactionStatus.IDLE


def write(cur: psycopg.RawCursor, columns: MetricColumns, lease: Lease, step: int, progress: Any,
          metrics: Dict[str, Any], float_columns: Set[str]) -> bool:
    """True when the step was written; False when the caller must call run_add_metrics (the step does
    not qualify, no run matched, a column was retyped, the server refused the statement), which writes
    it or raises the right error. Connection trouble raises psycopg.OperationalError, as any call does.
    ``cur`` is the client's reused raw cursor ($n placeholders: Client.step_cursor)."""
    conn = cur.connection
    if conn.pgconn.transaction_status != _IDLE or type(progress) not in _NUMBERS:
        return False
    values = []
    for name, value in metrics.items():
        if name not in float_columns:
            return False
        if value is not None:
            if type(value) not in _NUMBERS:  # bool, str, numpy and torch scalars: the function's conversions
                return False
            try:
                value = float(value) + 0.0  # -0.0 as 0, as the function stores it (a JSON number)
            except OverflowError:  # an int beyond double precision: the function's error
                return False
        values.append(value)
    statement = columns.step_statement(conn, tuple(metrics))
    if statement is None:
        return False
    experiment_id = lease.experiment_id
    params = [Int8(lease.run_id), lease.attempt, None if experiment_id is None else Int8(experiment_id), Int8(step),
              float(progress), *values]
    try:
        cur.execute(statement, params)
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        return False
    return cur.rowcount > 0
