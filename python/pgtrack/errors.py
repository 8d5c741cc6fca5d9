"""Exceptions, one per pgtrack SQLSTATE (SPEC §4.5)."""
from __future__ import annotations

import re
from typing import Optional

import psycopg


class PgtrackError(Exception):
    """Base class of every error raised by pgtrack."""

    sqlstate: Optional[str] = None

    def __init__(self, message: str, hint: Optional[str] = None, cause: Optional[BaseException] = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.__cause__ = cause


class DuplicateRunError(PgtrackError):
    """PT001: a run with these identifying fields exists (``on_duplicate='raise'``)."""

    sqlstate = "PT001"

    @property
    def existing_run_id(self) -> Optional[int]:
        match = re.search(r"run (\d+)", self.message)
        return int(match.group(1)) if match else None


class NotFoundError(PgtrackError):
    """PT002: the experiment or run does not exist."""

    sqlstate = "PT002"


class SchemaValidationError(PgtrackError):
    """PT003: a value, field, name or policy is invalid."""

    sqlstate = "PT003"


class LeaseLostError(PgtrackError):
    """PT004: the run was claimed by another attempt."""

    sqlstate = "PT004"


class SchemaChangeError(PgtrackError):
    """PT005: a schema change was refused."""

    sqlstate = "PT005"


_BY_SQLSTATE = {cls.sqlstate: cls for cls in (
    DuplicateRunError, NotFoundError, SchemaValidationError, LeaseLostError, SchemaChangeError)}


def translate(exc: psycopg.Error) -> BaseException:
    """The pgtrack exception for a psycopg error raised by a pgtrack function, else ``exc``."""
    cls = _BY_SQLSTATE.get(getattr(exc, "sqlstate", None) or "")
    if cls is None:
        return exc
    diag = exc.diag
    return cls(diag.message_primary or str(exc), hint=diag.message_hint, cause=exc)
