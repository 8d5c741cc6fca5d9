"""Buffered metric rows through binary COPY: the fast path of a flush.

A flush of the common batch (new steps of one run, every value a float or int for a double precision
column) runs, in one transaction: ``pgtrack._metrics_copy_begin`` (the touch and lease check of every
metric write, holding the run's row lock to commit, and whether any row of the run lies in the batch's
(step, progress) range), then ``COPY pgtrack.metrics ... (FORMAT binary)``. That costs about what a
hand-written COPY does (bench/results.md §1; docs/design.md, "Where the time goes").

Everything else goes through ``run_add_metrics_batch`` (the upsert that merges), and so does a batch
whose COPY fails for any reason but the connection: a row of the range already stored (a retry, a step
logged again), a concurrent raw INSERT of the same key (the primary key refuses the COPY), a column
whose type changed since the client cached it. So the guarantees are the upsert's: idempotent writes,
lease fencing with ``attempt``, the row lock against a concurrent claim, and the same errors. Rows that
repeat a (step, progress) inside the batch are merged here first, later non-None values winning, as the
upsert would.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import psycopg
from psycopg import sql as _sql

from .errors import LeaseLostError, translate

Row = Dict[str, Any]
BEGIN = "SELECT pgtrack._metrics_copy_begin(%s, %s, %s, %s, %s, %s, %s)"
_KEYS = ("step", "progress")
_COPYABLE = frozenset((float, int, type(None)))


def plan(rows: Sequence[Row], float_columns: Set[str]) -> Optional[Tuple[List[str], List[tuple]]]:
    """(metric names, one (step, progress, values...) tuple per (step, progress)) when the batch can be
    copied: every name a double precision column, every value a float, an int or None. Else None."""
    names: List[str] = []
    last_keys: Any = None
    keys: Dict[Tuple[Any, Any], Row] = {}
    merged = False
    for row in rows:
        row_keys = row.keys()
        if row_keys != last_keys:  # usually every row has the same names: checked once
            for name in row_keys:
                if name not in names and name not in _KEYS:
                    if name not in float_columns:
                        return None
                    names.append(name)
            last_keys = row_keys
        for value in row.values():
            if type(value) not in _COPYABLE:  # bool, str, numpy and torch scalars: the upsert's conversions
                return None
        key = (row.get("step") or 0, row.get("progress") or 0.0)  # absent or null: 0, as in run_add_metrics_batch
        if key in keys:
            if not merged:  # copy before merging into it: the rows stay the caller's (a retry resends them)
                keys = {k: dict(v) for k, v in keys.items()}
                merged = True
            keys[key].update((n, v) for n, v in row.items() if v is not None)
        else:
            keys[key] = row
    return names, [(s, float(p), *[r.get(n) for n in names]) for (s, p), r in keys.items()]


def copy(conn: psycopg.Connection, run_id: int, rows: Sequence[Row], float_columns: Set[str],
         attempt: Optional[int], experiment_id: Optional[int]) -> Optional[int]:
    """Write rows by COPY if they qualify (see the module docstring): the number of rows written, or
    None when the caller must use run_add_metrics_batch. LeaseLostError (nothing written) if the run
    was taken over; connection trouble raises psycopg.OperationalError (the buffer keeps the rows)."""
    planned = plan(rows, float_columns)
    if planned is None:
        return None
    names, tuples = planned
    first, last = min(t[:2] for t in tuples), max(t[:2] for t in tuples)
    statement = _sql.SQL("COPY pgtrack.metrics (run_id, experiment_id, step, progress{}) FROM STDIN (FORMAT binary)").format(
        _sql.SQL("").join(_sql.SQL(", {}").format(_sql.Identifier(n)) for n in names))
    try:
        with conn.transaction(), conn.cursor() as cur:
            experiment = cur.execute(BEGIN, (run_id, first[0], first[1], last[0], last[1], attempt, experiment_id)).fetchone()[0]
            if experiment is None:
                raise _Stored
            with cur.copy(statement) as out:
                out.set_types(["int8", "int8", "int8", "float8"] + ["float8"] * len(names))
                for row in tuples:
                    out.write_row((run_id, experiment, *row))
    except (_Stored, OverflowError):  # OverflowError: an int beyond a double, which the upsert refuses in words
        return None
    except psycopg.OperationalError as exc:
        # 08P01 on a live connection: binary data the column's type does not read (its type changed
        # since the client cached it). Anything else of the class is trouble the buffer retries.
        if exc.sqlstate != "08P01" or conn.broken or conn.closed:
            raise
        return None
    except psycopg.Error as exc:
        error = translate(exc)
        if isinstance(error, LeaseLostError):
            raise error from None
        return None  # the upsert writes the rows, or raises the error every path raises
    return len(tuples)


class _Stored(Exception):
    """Some row of the batch's range is stored already: the upsert merges."""
