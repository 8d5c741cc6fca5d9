"""Exceptions: one class per pgtrack SQLSTATE (SPEC §4.5), plus the lifecycle's own outcomes.

Every error raised by a pgtrack SQL function arrives as a psycopg error with SQLSTATE PT001..PT005;
``translate`` turns it into the matching class below, keeping the server's message and hint.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import psycopg


class PgtrackError(Exception):
    """Base class of every error raised by pgtrack."""

    sqlstate: Optional[str] = None

    def __init__(self, message: str, hint: Optional[str] = None, sqlstate: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.sql_hint = hint  # translate() keeps the server's SQL wording here, hint gets the Python one
        if sqlstate is not None:
            self.sqlstate = sqlstate

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class DuplicateRunError(PgtrackError):
    """PT001: a run with these identifying fields exists (``on_duplicate='raise'``).

    ``existing_run_id`` is its id; ``run`` is a :class:`pgtrack.Run` for it (set by the registry API).
    """

    sqlstate = "PT001"
    run: Any = None

    @property
    def existing_run_id(self) -> Optional[int]:
        match = re.search(r"\brun (\d+)", self.message)
        return int(match.group(1)) if match else None

    @property
    def existing(self) -> Any:
        """wallow's name for :attr:`run`."""
        return self.run


class NotFoundError(PgtrackError):
    """PT002: the experiment or run does not exist."""

    sqlstate = "PT002"


class SchemaError(PgtrackError):
    """wallow's base of the schema errors: SchemaValidationError (and so SchemaParseError) and
    PendingMigrationError."""


class SchemaValidationError(SchemaError):
    """PT003: a value, field, name or policy is invalid."""

    sqlstate = "PT003"


class SchemaParseError(SchemaValidationError):
    """PT003 raised while reading a schema file (``load_schema``): malformed TOML, an unknown key or
    type, a bad default. wallow's name; a SchemaValidationError, so either ``except`` catches it."""


class LeaseLostError(PgtrackError):
    """PT004: the run was claimed by a newer attempt; stop working on it.

    ``run_id`` is the run, ``attempt`` the attempt this worker held, ``current_attempt`` the run's now.
    """

    sqlstate = "PT004"

    def _numbers(self):
        match = re.search(r"run (\d+) is at attempt (\d+), not (\d+)", self.message)
        return tuple(int(g) for g in match.groups()) if match else (None, None, None)

    @property
    def run_id(self) -> Optional[int]:
        return self._numbers()[0]

    @property
    def current_attempt(self) -> Optional[int]:
        return self._numbers()[1]

    @property
    def attempt(self) -> Optional[int]:
        return self._numbers()[2]


class SchemaChangeError(PgtrackError):
    """PT005: a schema change was refused (collisions, missing default, type change, data present)."""

    sqlstate = "PT005"


class PendingMigrationError(SchemaError):
    """The database's pgtrack is older than this package (``Store(..., check_schema=True)``):
    ``current_rev`` is the database's version, ``head_rev`` the package's. wallow's name and
    attributes (its revisions were Alembic's); upgrade with ``pgtrack setup``."""

    def __init__(self, current_rev: Optional[str] = None, head_rev: Optional[str] = None, message: Optional[str] = None,
                 hint: Optional[str] = None):
        super().__init__(message or f"the database is at revision {current_rev}, the head is {head_rev}", hint=hint)
        self.current_rev, self.head_rev = current_rev, head_rev


class ServerUnreachable(PgtrackError, psycopg.OperationalError):
    """The database server could not be reached, or the connection broke during a call. One line, where
    libpq's own message runs to many; a psycopg.OperationalError too, so code that catches that still
    does. ``original`` is libpq's error. The Client reconnects on its next call."""

    original: Optional[BaseException] = None  # set by from_error; None for one constructed directly

    @classmethod
    def from_error(cls, exc: BaseException) -> "ServerUnreachable":
        text = str(exc).strip()
        error = cls(f"cannot reach the database server: {text.splitlines()[0] if text else type(exc).__name__}",
                    hint="check that the server runs and that PGHOST/PGPORT (or PGTRACK_DSN_*, pgtrack.conf) name it; "
                         "the next call connects again")
        error.original = exc
        return error


class AlreadyCompleted(PgtrackError):
    """run_lifecycle(): the run is COMPLETED (pass ``force=True`` to run it again); the body did not run."""

    def __init__(self, run: Any):
        super().__init__(f"run {run.id} (uuid {run.uuid}) already completed; pass force=True to run it again")
        self.run = run


class AlreadyRunning(AlreadyCompleted):
    """run_lifecycle(): another worker holds the run and heartbeats it; the body did not run.

    A kind of AlreadyCompleted, so the sweep loop wallow's README teaches (``except AlreadyCompleted:
    continue``) moves on to the next configuration instead of dying, as a worker should: wallow took
    the run over and trained it a second time. ``except AlreadyRunning`` before it tells them apart."""

    def __init__(self, run: Any):
        PgtrackError.__init__(self, f"run {run.id} (uuid {run.uuid}) is {run.status} and its holder is alive; "
                                    "it becomes claimable when no heartbeat arrives for stale_after")
        self.run = run


# Hints are written for psql; from Python they name the Python call (issue 15: "hints in Python
# errors are written in Python, not SQL"). Each (pattern, replacement) rewrites one SQL call.
_PYTHON_HINTS = [
    (re.compile(r"SELECT pgtrack\.add_metric\(('(?:[^']|'')*')\);?"), r"client.add_metric(\1)"),
    (re.compile(r"SELECT pgtrack\.add_run_column\(('(?:[^']|'')*'), 'text'\)"),
     r"an [annotating] field in the schema file (pgtrack.load_schema) or "
     r"client.execute(\"SELECT pgtrack.add_run_column(%s, 'text')\", (\1,))"),
    (re.compile(r"pgtrack\.declare_identifying\(\)"), "experiment.declare_identifying(name, type)"),
    (re.compile(r"SELECT pgtrack\.experiment\([^)]*\)"), "pgtrack.Experiment(client, name=...)"),
    (re.compile(r"SELECT pgtrack\.create_run\(experiment_id\) or pgtrack\.register\(\.\.\.\)"),
     "experiment.get_run() or pgtrack.register(experiment, ...)"),
    (re.compile(r"SELECT \* FROM pgtrack\.collisions_after_drop\(\d+, ('(?:[^']|'')*')\)"), r"experiment.collisions_after_drop(\1)"),
    (re.compile(r"SELECT enum_range\(NULL::pgtrack\.runstatus\)"), "the pgtrack.runstatus labels (RUNNING, COMPLETED, FAILED, ...)"),
]


def python_hint(hint: Optional[str]) -> Optional[str]:
    """The server's hint with its SQL calls written as the Python calls that do the same."""
    if not hint:
        return hint
    for pattern, replacement in _PYTHON_HINTS:
        hint = pattern.sub(replacement, hint)
    return hint


# wallow's base class: every error pgtrack raises (its own hierarchy: DuplicateRunError,
# SchemaValidationError > SchemaParseError, PendingMigrationError, ...) derives from it.
WallowError = PgtrackError

_BY_SQLSTATE = {cls.sqlstate: cls for cls in (
    DuplicateRunError, NotFoundError, SchemaValidationError, LeaseLostError, SchemaChangeError)}


def translate(exc: psycopg.Error) -> BaseException:
    """The pgtrack exception for a psycopg error raised by a pgtrack function, else ``exc``.

    Two errors come from PostgreSQL itself before any pgtrack code runs, and are validation errors too:
    a status that is not a runstatus label (22P02), and JSON text that is not valid Unicode (a lone
    surrogate escape)."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    diag = exc.diag
    hint = diag.message_hint
    primary = diag.message_primary or ""
    if sqlstate == "22P02" and "pgtrack.runstatus" in primary:
        sqlstate, hint = "PT003", "statuses are the Slurm job states: SELECT enum_range(NULL::pgtrack.runstatus)"
    elif sqlstate in ("22P02", "22P05", "22021") and any(word in f"{primary} {diag.message_detail or ''}"
                                                        for word in ("surrogate", "Unicode", "UTF8")):
        sqlstate, hint = "PT003", "text must be valid Unicode: a lone surrogate such as '\\ud800' cannot be stored"
    elif not sqlstate and isinstance(exc, psycopg.DataError) and "NUL" in str(exc):  # psycopg refused to send it
        error: PgtrackError = SchemaValidationError("text with a NUL character (\\x00) cannot be stored",
                                                    hint="PostgreSQL text holds no NUL character: remove it")
        error.__cause__ = exc
        return error
    cls = _BY_SQLSTATE.get(sqlstate)
    if cls is None:
        return exc
    error = cls(diag.message_primary or str(exc), hint=python_hint(hint))
    error.sql_hint = hint  # the server's own words, for psql users
    error.__cause__ = exc
    return error
