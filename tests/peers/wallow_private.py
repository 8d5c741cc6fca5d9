"""Names wallow's code imports that pgtrack does not have under that name, for the harness's import
translation (tests/peers/translate.py). Names only: each is pgtrack's own function, with pgtrack's
behaviour and errors, or a placeholder.

- ``sanitise_for_path``, ``substitute_layout`` (``wallow._paths``): ``pgtrack.paths``'s.
- ``_normalise_float(value, precision)`` (``wallow.schema``): pgtrack normalises identifying floats in
  the server (``pgtrack._round_significant``, what ``register`` stores), so this asks the default
  database.
- any other name (``FieldDecl``, ``wallow.schema._parse``, ``_server_default_literal``): a placeholder
  that raises NotImplementedError when called or looked into, so a test that uses it fails and the
  file's other tests still run.
"""
from __future__ import annotations

from typing import Any, NoReturn

import pgtrack
from pgtrack.paths import sanitise_for_path, substitute_layout

__all__ = ["sanitise_for_path", "substitute_layout", "_normalise_float"]


def _normalise_float(value: float, precision: int) -> float:
    client = pgtrack.Client()
    try:
        return float(client.value("SELECT pgtrack._round_significant(%s::numeric, %s)::float8", (repr(float(value)), precision)))
    finally:
        client.close()


class Missing:
    """Stands for a name pgtrack does not have: any use raises NotImplementedError naming it."""

    def __init__(self, name: str, why: str):
        self._name, self._why = name, why

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"{self._name}: {self._why}")

    __call__ = _refuse

    def __getattr__(self, attribute: str) -> NoReturn:
        if attribute.startswith("__"):  # introspection (copy, inspect, pytest) asks for these
            raise AttributeError(attribute)
        self._refuse()

    def __repr__(self) -> str:
        return f"<missing {self._name}>"


def __getattr__(name: str) -> Missing:
    if name.startswith("__"):
        raise AttributeError(name)
    return Missing(f"wallow's {name}", "pgtrack has no such name")
