"""The encoding half of a buffered flush by COPY (pgtrack._copy has the protocol exchange): which
batches qualify, rows merged per (step, progress) as the upsert would, and the rows in COPY's binary
format.

A batch qualifies when every name is a double precision column and every value a float, an int or
None. Rows that repeat a (step, progress) inside the batch are merged here first, later non-None
values winning, as the upsert would. -0.0 is stored as 0, as every other route stores it.
"""
from __future__ import annotations

import struct
import sys
from array import array
from itertools import chain
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

Row = Dict[str, Any]
_HEADER = b"PGCOPY\n\xff\r\n\0" + bytes(8)  # signature, flags, header extension length
_TRAILER = b"\xff\xff"
_FIELDS, _INT8, _FLOAT8 = struct.Struct(">h"), struct.Struct(">iq"), struct.Struct(">id")
_NULL = struct.pack(">i", -1)
_KEYS = ("step", "progress")
_COPYABLE = frozenset((float, int, type(None)))
_NUMBERS = frozenset((float, int))


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


class Batch(NamedTuple):
    """A batch ready for COPY: its metric names, (step, progress) range and an encoder of its rows."""
    names: List[str]
    first: Tuple[int, float]
    last: Tuple[int, float]
    encode: Callable[[int, int], bytes]  # (run_id, experiment_id) -> COPY binary data


def prepare(rows: Sequence[Row], float_columns: Set[str]) -> Optional[Batch]:
    """The batch for COPY, or None when it must go through run_add_metrics_batch (see plan())."""
    batch = _uniform(rows, float_columns)
    if batch is not None:
        return batch
    planned = plan(rows, float_columns)
    if planned is None:
        return None
    names, tuples = planned
    return Batch(names, min(t[:2] for t in tuples), max(t[:2] for t in tuples),
                 lambda run_id, experiment_id: payload(run_id, experiment_id, tuples))


def _uniform(rows: Sequence[Row], float_columns: Set[str]) -> Optional[Batch]:
    """The usual batch, handled column by column: every row has the same names (step and progress
    among them), steps strictly increase (so no (step, progress) repeats), every value is a float or
    an int that int8/float8 holds. Else None (plan() decides)."""
    keys = rows[0].keys()
    names = [n for n in keys if n not in _KEYS]
    if len(names) + 2 != len(keys) or not float_columns.issuperset(names) or any(r.keys() != keys for r in rows):
        return None
    columns = [[r[n] for r in rows] for n in ("step", "progress", *names)]
    steps = columns[0]
    if not _NUMBERS.issuperset(map(type, chain.from_iterable(columns))) or any(a >= b for a, b in zip(steps, steps[1:])):
        return None  # a bool, None, str or numpy value; or steps repeated or out of order
    try:
        for column in columns[1:]:
            if 0.0 in column:  # -0.0 as 0, as every other route stores it (a JSON number has no sign of zero)
                column[:] = [v + 0.0 for v in column]
        arrays = [array("q", steps)] + [array("d", c) for c in columns[1:]]
    except (OverflowError, TypeError):  # beyond int8 or float8, a float step: plan()'s path, and the upsert's refusal in words
        return None
    if sys.byteorder == "little":
        for a in arrays:
            a.byteswap()
    first, last = (steps[0], float(columns[1][0])), (steps[-1], float(columns[1][-1]))
    return Batch(names, first, last, lambda run_id, experiment_id: _interleave(run_id, experiment_id, arrays))


def _interleave(run_id: int, experiment_id: int, arrays: List[array]) -> bytes:
    """COPY binary rows from big-endian columns: a template row repeated, each column's 8-byte values
    copied into their place by strided slices (8 per column, all in C)."""
    count, fields = len(arrays[0]), len(arrays) + 2
    row = _FIELDS.pack(fields) + _INT8.pack(8, run_id) + _INT8.pack(8, experiment_id) + _INT8.pack(8, 0) * len(arrays)
    size, start = len(row), len(_HEADER)
    out = bytearray(_HEADER + row * count + _TRAILER)
    end = start + size * count
    for column, values in enumerate(arrays):
        data = values.tobytes()
        at = start + 2 + 12 * (column + 2) + 4
        for byte in range(8):
            out[at + byte:end:size] = data[byte::8]
    return bytes(out)


def payload(run_id: int, experiment_id: int, tuples: Sequence[tuple]) -> bytes:
    """The rows (run_id, experiment_id, step, progress, values...) in COPY's binary format. OverflowError
    or struct.error: a value no int8/float8 holds (the upsert refuses it in words)."""
    width = len(tuples[0]) if tuples else 2
    row = struct.Struct(">hiqiqiqid" + "id" * (width - 2))
    pack, head, eights = row.pack, (width + 2, 8, run_id, 8, experiment_id), (8,) * width
    out = bytearray(_HEADER)
    for values in tuples:
        if 0.0 in values:  # -0.0 as 0, as every other route stores it (step 0 lands here too: harmless)
            values = (values[0], *[v if v is None else v + 0.0 for v in values[1:]])
        if None in values:  # a NULL field is a length of -1 and no data
            out += _FIELDS.pack(width + 2) + _INT8.pack(8, run_id) + _INT8.pack(8, experiment_id) + _INT8.pack(8, values[0])
            out += b"".join(_NULL if v is None else _FLOAT8.pack(8, v) for v in values[1:])
        else:
            out += pack(*head, *chain.from_iterable(zip(eights, values)))
    out += _TRAILER
    return bytes(out)
