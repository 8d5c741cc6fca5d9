"""A run's identifying values as Python values of their declared types.

The server stores an identifying float in its canonical form, trailing zeros stripped (0.0 as 0, 2.50
as 2.5: one key for 1 and 1.0), and JSON then reads a whole float back as an int. The declared type
decides the Python type, as in wallow: a float field gives a float (0.0), an int field an int. The
names of the float fields come from the caller (the query's catalog, or _statements.FLOAT_FIELDS).
"""
from __future__ import annotations

from typing import Any, Collection, Dict, Mapping, Optional


def has_whole_numbers(identity: Optional[Mapping[str, Any]]) -> bool:
    """True when some value reads as an int: only then can a float field need converting (and the
    caller need to look up which fields are floats)."""
    return identity is not None and any(type(value) is int for value in identity.values())


def typed_identity(identity: Optional[Mapping[str, Any]], float_fields: Collection[str]) -> Optional[Dict[str, Any]]:
    """``identity`` with the whole values of ``float_fields`` as floats (None stays None)."""
    if identity is None:
        return None
    return {name: float(value) if type(value) is int and name in float_fields else value for name, value in identity.items()}
