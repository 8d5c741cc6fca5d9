"""Caller text inside composed statements that are executed with parameters.

psycopg reads every ``%`` of a statement sent with parameters as the start of a placeholder, the ``%``
inside a quoted identifier or a literal included: a metric named ``cpu%`` (or ``a%s``, ``%(x)s``) made
every statement that named it fail, or worse, shift its parameters. The pieces below double the ``%``
of the text they render (psycopg turns ``%%`` back into ``%``), so they are for statements executed
with parameters only; a statement sent without parameters uses ``psycopg.sql.Identifier`` as it is.
"""
from __future__ import annotations

from typing import Any, Optional

from psycopg import sql as _sql
from psycopg.abc import AdaptContext


class _PercentEscaped(_sql.Composable):
    """A composable rendered as its inner one, with ``%`` doubled."""

    def __init__(self, inner: _sql.Composable):
        super().__init__(inner)

    def as_bytes(self, context: Optional[AdaptContext] = None) -> bytes:
        return self._obj.as_bytes(context).replace(b"%", b"%%")


def ident(name: str) -> _sql.Composable:
    """A quoted identifier for a statement executed with parameters."""
    return _PercentEscaped(_sql.Identifier(name))


def literal(value: Any) -> _sql.Composable:
    """A literal for a statement executed with parameters."""
    return _PercentEscaped(_sql.Literal(value))
