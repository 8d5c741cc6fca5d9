"""One unbuffered metrics step as one typed statement: the fast path of ``add_metrics(buffer=False)``.

``run_add_metrics`` takes the metrics as jsonb, and a PL/pgSQL function taking jsonb costs about 1.13x
the same statement sent by hand before it checks anything (docs/design.md, "Where the time goes"). So
when a step qualifies (every name a double precision column on one server, every value a float, an
int or None, outside ``client.connect()``) the client sends the statement a careful user would write,
with the guarantees of the function's own first write of a run:

- the touch (``time_updated``) and the lease check in one data-modifying CTE: the UPDATE matches only
  the run with the caller's ``attempt`` (and experiment, when known), and holds its row lock to commit,
  so a concurrent claim cannot slip between the check and the row;
- the row as an upsert on the primary key that merges like the function (``coalesce(EXCLUDED.x, m.x)``:
  None keeps a stored value), so a retried step is idempotent;
- one statement in autocommit: written and durable when the call returns, or not at all;
- every operator and type named with its schema, like the server's unpinned writers: a caller whose
  search_path puts someone else's schema first runs nothing of theirs (tests/python/security/test_search_path.py).

When the UPDATE matches no run (lost lease, no such run, another experiment) nothing is written, and
the caller calls ``run_add_metrics``, whose error says which. A column retyped since the client cached
the names writes nothing either (the statement only inserts while every column it names is double
precision: a condition on the table's row type, re-planned with it), nor does any statement the server
refuses; the function then converts the value to the new type or says why it cannot.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Set, Tuple

import psycopg
from psycopg import pq
from psycopg import sql as _sql
from psycopg.types.numeric import Int8

from ._sqlparts import ident

_NUMBERS = (float, int)
_IDLE = pq.TransactionStatus.IDLE
_statements: Dict[Tuple[str, ...], bytes] = {}  # metric names -> statement, shared by every connection
_MAX_STATEMENTS = 256  # distinct name sets a process logs are few; past this, start over


def statement(conn: psycopg.Connection, names: Tuple[str, ...]) -> bytes:
    """The upsert for these metric columns (identifiers quoted by psycopg), built once per name set."""
    query = _statements.get(names)
    if query is None:
        columns = _sql.SQL("").join(_sql.SQL(", {}").format(ident(n)) for n in names)
        values = _sql.SQL("").join(_sql.SQL(", %b") for _ in names)
        merge = _sql.SQL(", ").join(_sql.SQL("{0} = coalesce(EXCLUDED.{0}, m.{0})").format(ident(n)) for n in names)
        typed = _sql.SQL("").join(
            _sql.SQL(" AND pg_catalog.pg_typeof((NULL::pgtrack.metrics).{})"
                     " OPERATOR(pg_catalog.=) 'pg_catalog.float8'::pg_catalog.regtype").format(ident(n)) for n in names)
        query = _sql.SQL(
            "WITH t AS (UPDATE pgtrack.runs r SET time_updated = pg_catalog.clock_timestamp()"
            " WHERE r.id OPERATOR(pg_catalog.=) %b"
            " AND r.attempt OPERATOR(pg_catalog.=) coalesce(%b::pg_catalog.int4, r.attempt)"
            " AND r.experiment_id OPERATOR(pg_catalog.=) coalesce(%b::pg_catalog.int8, r.experiment_id)"
            " RETURNING r.id, r.experiment_id)"
            " INSERT INTO pgtrack.metrics AS m (run_id, experiment_id, step, progress{})"
            " SELECT t.id, t.experiment_id, %b, %b{} FROM t WHERE true{}"
            " ON CONFLICT (run_id, step, progress) {}").format(
            columns, values, typed, _sql.SQL("DO UPDATE SET {}").format(merge) if names else _sql.SQL("DO NOTHING")
        ).as_bytes(conn)
        if len(_statements) >= _MAX_STATEMENTS:
            _statements.clear()
        _statements[names] = query
    return query


def write(cur: psycopg.Cursor, run_id: int, attempt: Optional[int], experiment_id: Optional[int], step: int,
          progress: Any, metrics: Dict[str, Any], float_columns: Set[str]) -> bool:
    """True when the step was written; False when the caller must call run_add_metrics (the step does
    not qualify, no run matched, a column was retyped, the server refused the statement), which writes
    it or raises the right error. Connection trouble raises psycopg.OperationalError, as any call does.
    ``cur`` is the client's reused cursor (Client._reused_cursor)."""
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
    params = [Int8(run_id), attempt, None if experiment_id is None else Int8(experiment_id), Int8(step), float(progress), *values]
    try:
        cur.execute(statement(conn, tuple(metrics)), params)
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        return False
    return cur.rowcount > 0
