"""Metric values that a call refuses at once, rather than a flush seconds later.

A double precision column (every metric pgtrack creates on first use is one) holds numbers: Python
ints and floats within a double's range, numpy scalars and one-element arrays, tensors of one element,
Decimals, and strings that are numbers (``"0.5"``, ``"NaN"``, ``"inf"``). ``None`` means "not given".
Anything else (``"0.3x"``, ``10 ** 400``, a list, a dict, and a bool, which is a flag rather than a
number: log ``float(flag)``) can never be stored there, so the call that logged it raises
SchemaValidationError naming the metric and the value, and nothing of that call is kept.
Columns of other types (text, jsonb, integer, a domain) are the server's to judge: a value it refuses
at a buffered flush costs that row alone (pgtrack.buffer).
"""
from __future__ import annotations

from typing import Any, Dict, Set

from .errors import SchemaValidationError


def _number_like(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        if isinstance(value, bytes):
            return False
        try:
            float(value)
        except ValueError:
            return False
        return True
    try:
        float(value)  # numpy scalars and 0-d arrays, one-element tensors, Decimal, Fraction
    except (TypeError, ValueError):
        return False
    return True


_DOUBLE_MAX = 1.7976931348623157e308


def check(metrics: Dict[str, Any], float_names: Set[str], known: Set[str]) -> None:
    """Raise SchemaValidationError for a value no double precision column can hold, in a column that
    is one (``float_names``) or will be one (a name not in ``known``)."""
    for name, value in metrics.items():
        kind = value.__class__
        if kind is float or value is None or (name not in float_names and name in known):
            continue
        if kind is int:
            if -_DOUBLE_MAX <= value <= _DOUBLE_MAX:
                continue
        elif kind is not bool and _number_like(value):
            continue
        column = "is a double precision column" if name in known else "would be a new double precision column"
        if kind is bool:
            hint = "log float(flag) for a flag"
        elif name in known:  # the column exists: text goes under another name
            hint = (f"log a number (float(x); NaN and inf are fine); for text, log it under a name of its own made first "
                    f"as text: client.add_metric({name + '_text'!r}, 'text')")
        else:
            hint = f"log a number (NaN and inf are fine); for text, make the column first: client.add_metric({name!r}, 'text')"

        raise SchemaValidationError(f"invalid metric value for {name!r}: {value!r:.80} is not a number a double holds, "
                                    f"and {name!r} {column}", hint=hint)
