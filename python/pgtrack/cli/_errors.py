"""Every exception as one line for the terminal and its exit code (_explain)."""
from __future__ import annotations

import psycopg

from ..embedded import EmbeddedUnavailable
from ..errors import NotFoundError, PgtrackError, ServerUnreachable
from ._common import (
    EXIT_BUG,
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_NOT_INSTALLED,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
)


def _terminal_text(exc: PgtrackError) -> str:
    """The message with the server's SQL hint (a terminal user has psql at hand), not the Python one."""
    hint = getattr(exc, "sql_hint", None)
    return f"{exc.message} (hint: {hint})" if hint else exc.message


def _explain(exc: BaseException) -> CliError:
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, NotFoundError):
        return CliError(_terminal_text(exc), EXIT_NOT_FOUND)
    if isinstance(exc, EmbeddedUnavailable):
        return CliError(f"{exc}", EXIT_UNREACHABLE)
    if isinstance(exc, ServerUnreachable):  # before PgtrackError: a connection, not a refusal
        exc = exc.original if exc.original is not None else exc  # without from_error: an OperationalError itself
    elif isinstance(exc, PgtrackError):
        return CliError(_terminal_text(exc), EXIT_REFUSED)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return CliError(f"permission denied: {exc.diag.message_primary}; ask the database owner for pgtrack_reader, "
                        "pgtrack_writer or pgtrack_admin", EXIT_DENIED)
    if isinstance(exc, (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedFunction)) \
            and "pgtrack" in (exc.diag.message_primary or ""):  # pgtrack's own objects are missing
        return CliError(f"pgtrack is missing or out of date in this database ({exc.diag.message_primary}); "
                        "run: pgtrack setup, or ALTER EXTENSION pgtrack UPDATE", EXIT_NOT_INSTALLED)
    if isinstance(exc, psycopg.ProgrammingError) and not getattr(exc, "sqlstate", None):  # libpq refused the settings
        return CliError(f"invalid connection settings: {str(exc).strip().splitlines()[0]}; check --dsn, -a/-p/-d/-u, "
                        "PGTRACK_DSN_* or pgtrack.conf", EXIT_USAGE)
    if isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CliError(f"cannot reach the database: {first}; check -a/-p/-d/-u, --dsn, PGTRACK_DSN_* or pgtrack.conf",
                        EXIT_UNREACHABLE)
    if isinstance(exc, FileNotFoundError):
        return CliError(str(exc), EXIT_NOT_FOUND)
    if isinstance(exc, PermissionError):
        return CliError(str(exc), EXIT_DENIED)
    if isinstance(exc, OSError):  # a disk full, a read-only file system, a directory given as a file
        where = f" {exc.filename}" if exc.filename else ""
        return CliError(f"cannot write or read{where}: {exc.strerror or exc}", EXIT_REFUSED)
    if isinstance(exc, psycopg.Error) and getattr(exc, "sqlstate", None):  # the server refused something else
        return CliError(f"{exc.diag.message_primary or exc} (SQLSTATE {exc.sqlstate})", EXIT_REFUSED)
    if isinstance(exc, ImportError):
        return CliError(str(exc), EXIT_USAGE)
    return CliError(f"unexpected {type(exc).__name__}: {exc}; rerun with PGTRACK_DEBUG=1 for the traceback", EXIT_BUG)
