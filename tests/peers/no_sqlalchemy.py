"""What wallow's tests import from SQLAlchemy (``text``, ``select``, ``inspect``, ``UniqueConstraint``,
``ScalarResult``), for pgtrack, which has no SQLAlchemy engine or ORM model: placeholders that raise
NotImplementedError when used, so a test module imports and only the tests that use them fail (listed
as expected differences in tests/peers/expected.py)."""
from __future__ import annotations

from wallow_private import Missing


def __getattr__(name: str) -> Missing:
    if name.startswith("__"):
        raise AttributeError(name)
    return Missing(f"sqlalchemy's {name}", "pgtrack has no SQLAlchemy engine or ORM model")
