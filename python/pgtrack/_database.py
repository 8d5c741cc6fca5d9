"""Which database a wallow ``Store(path_or_url, ...)`` opens, and whether its pgtrack is current.

wallow named a SQLite file; pgtrack keeps every experiment in one PostgreSQL database. So:

- a SQLite path (``"runs.db"``, ``Path("runs.db")``, ``":memory:"``) or URL (``sqlite:///runs.db``,
  ``sqlite://``, ``sqlite+pysqlite:///...``) opens the default database, ``pgtrack.Client()`` with no
  arguments (``PGTRACK_DSN_*``, ``pgtrack.conf``, libpq's ``PG*`` variables, else the embedded
  server). The path itself is not used: the same program gets the same database every run, and the
  experiment is the schema's ``[project].name``, never the file name;
- a PostgreSQL URL (``postgresql://...``, ``postgres://...``, SQLAlchemy's ``postgresql+psycopg://...``
  and ``postgresql+psycopg2://...``) opens that database;
- anything else (another scheme, an empty string, a non-path) is refused before any connection.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Tuple

from .client import Client
from .errors import PendingMigrationError
from .plain import installed

POSTGRES_SCHEMES = ("postgresql", "postgres")


def target(path_or_url: Any) -> Tuple[str, Optional[str]]:
    """("sqlite", None) for a SQLite path or URL, ("postgresql", dsn) for a PostgreSQL URL; TypeError or
    ValueError for anything else."""
    if isinstance(path_or_url, os.PathLike):
        path_or_url = os.fspath(path_or_url)
    if not isinstance(path_or_url, str):
        raise TypeError(f"Store takes a database path or URL (str or os.PathLike), got {type(path_or_url).__name__}")
    if not path_or_url.strip():
        raise ValueError("Store needs a database path or URL, got an empty string (e.g. \"runs.db\")")
    scheme, sep, rest = path_or_url.partition("://")
    if not sep:
        return "sqlite", None  # a file path or ":memory:"
    dialect = scheme.partition("+")[0].lower()
    if dialect == "sqlite":
        return "sqlite", None
    if dialect in POSTGRES_SCHEMES:
        return "postgresql", f"postgresql://{rest}"  # libpq knows no "+driver" part
    raise ValueError(f"Store opens a SQLite path or URL (the default pgtrack database) or a postgresql:// URL, "
                     f"not a {scheme}:// URL")


def client_for(path_or_url: Any) -> Client:
    """The Client a Store on ``path_or_url`` uses (see the module docstring)."""
    kind, dsn = target(path_or_url)
    return Client() if kind == "sqlite" else Client(dsn=dsn)


def _version(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def check_current(client: Client) -> None:
    """PendingMigrationError when the database's pgtrack (extension or plain install) is missing or
    older than this package's: wallow's ``check_schema`` said so of Alembic revisions."""
    from . import __version__  # the package, loaded by now (pgtrack/__init__.py defines it after its imports)

    extension, plain = installed(client)
    current = extension or plain
    if current is None:
        raise PendingMigrationError(None, __version__, f"pgtrack is not set up in this database (this package is {__version__})",
                                    hint="run pgtrack setup (or CREATE EXTENSION pgtrack; SELECT pgtrack.setup())")
    if _version(current) < _version(__version__):
        how = "ALTER EXTENSION pgtrack UPDATE" if extension else "pgtrack setup --plain"
        raise PendingMigrationError(current, __version__,
                                    f"the database's pgtrack is {current}, older than this package's {__version__}",
                                    hint=f"upgrade it: pgtrack setup (or {how})")
