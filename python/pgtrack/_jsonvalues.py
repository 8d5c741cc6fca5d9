"""Python values to the JSON text pgtrack's SQL functions take.

PostgreSQL's jsonb has no NaN or infinity, so non-finite floats travel as the strings "NaN",
"Infinity" and "-Infinity", which pgtrack's float metric and annotating columns accept; identifying
values refuse them instead (``identifying_json``). numpy scalars and arrays, datetimes, dates, paths,
UUIDs, Decimals and sets are converted too.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import uuid
from pathlib import PurePath
from typing import Any, Iterator, List, Mapping

from .errors import SchemaValidationError

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _default(value: Any) -> Any:
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (PurePath, uuid.UUID)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if not value.is_finite() else json.loads(str(value))
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"value {value!r} of type {type(value).__name__} cannot be stored as JSON")


def json_safe(value: Any) -> Any:
    """A JSON-safe copy, for output and for PostgreSQL: datetimes as ISO strings, durations as seconds,
    non-finite floats as their PostgreSQL spellings, tuples as lists, anything else unknown as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else _NON_FINITE[value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def to_json(value: Any) -> str:
    """JSON text for metric rows, annotating values, args and env (NaN/inf as strings)."""
    try:
        return json.dumps(value, allow_nan=False, default=_default)
    except ValueError:  # a non-finite float somewhere: the slow path, only then
        return json.dumps(json_safe(json.loads(json.dumps(value, default=_default))), allow_nan=False)
    except TypeError as exc:  # a value JSON cannot hold (an object, a function): the caller's to fix
        raise SchemaValidationError(str(exc), hint="log numbers, strings, booleans, None, and lists or dicts of them") from None


# run_add_metrics_batch takes at most this many rows and 4 MiB of jsonb a call; the client keeps each
# call's JSON text under 2 MiB (jsonb of float-heavy rows can be larger than its text).
BATCH_MAX_ROWS = 10_000
BATCH_MAX_BYTES = 2 * 1024 * 1024


def json_batches(rows: List[Any], max_rows: int = BATCH_MAX_ROWS, max_bytes: int = BATCH_MAX_BYTES) -> Iterator[str]:
    """JSON arrays of consecutive ``rows``, in order, each within run_add_metrics_batch's limits: a
    large flush is split rather than refused (rows sharing a step still merge across calls, later
    rows winning, since the calls run in order)."""
    for start in range(0, len(rows), max_rows):
        yield from _within_bytes(rows[start:start + max_rows], max_bytes)


def _within_bytes(rows: List[Any], max_bytes: int) -> Iterator[str]:
    """``rows`` as JSON, halved until each part fits ``max_bytes`` (json.dumps writes ASCII, so its
    length is its size). A single row over the limit goes alone: the server says why it cannot take it."""
    text = to_json(rows)
    if len(text) <= max_bytes or len(rows) == 1:
        yield text
        return
    half = len(rows) // 2
    yield from _within_bytes(rows[:half], max_bytes)
    yield from _within_bytes(rows[half:], max_bytes)


def identifying_json(identifying: Mapping[str, Any]) -> str:
    """JSON text for identifying values: a NaN or infinity is SchemaValidationError, never an encoding error.
    One encoding on the hot path; only a refused one looks for the field to name."""
    if not isinstance(identifying, Mapping):
        raise SchemaValidationError(f"identifying must be a dict of field values, got {type(identifying).__name__}")
    try:
        return json.dumps(dict(identifying), allow_nan=False, default=_default)
    except ValueError:
        for name, value in identifying.items():
            plain = json.loads(json.dumps(value, default=_default))
            if isinstance(plain, float) and not math.isfinite(plain):
                shown = json_safe(plain)  # NaN, Infinity: wallow's tests match "NaN"
                raise SchemaValidationError(f"identifying field {name!r} must be a finite number, got {shown} ({shown} not allowed)",
                                            hint="NaN and infinities cannot identify a run; pass a finite number") from None
        raise
