"""User migration scripts, applied once each through ``pgtrack.migrate(name, script)`` (the SQL
function records the name and checksum in the script's own transaction). Shared by ``pgtrack setup
SCRIPT.sql ...`` and SQLTrack's ``pgtrack.commands.migrate.migrate(client, paths)``.

An error raised by the script's own SQL is MigrationError naming the script and, where it can be
found, the line: the script's error, never "pgtrack is missing".
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, List, Union

import psycopg

from .errors import PgtrackError


class MigrationError(PgtrackError):
    """A migration script failed; nothing of it was applied."""

    sqlstate = "PT005"


def script_paths(paths: Union[str, Path, Iterable[Union[str, Path]]]) -> List[Path]:
    """Files in the order given; a directory stands for its *.sql files in name order."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found: List[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found.extend(sorted(item.glob("*.sql")))
        elif item.is_file():
            found.append(item)
        else:
            raise FileNotFoundError(f"migration script {item} does not exist")
    return found


def apply(client: Any, path: Path) -> bool:
    """Apply one script (by its file name); True if it ran now, False if it was applied before."""
    return apply_text(client, path.name, path.read_text(), str(path))


def apply_text(client: Any, name: str, text: str, shown: str = "") -> bool:
    """Apply the script ``text`` under ``name`` (``shown`` names it in errors; default: the name);
    True if it ran now, False if it was applied before."""
    try:
        return client.value("SELECT pgtrack.migrate(%s, %s)", (name, text))
    except (PgtrackError, psycopg.OperationalError):
        raise
    except psycopg.Error as exc:
        diag = exc.diag
        where = ""
        if diag.internal_query and diag.internal_position:  # a syntax error: PostgreSQL says where
            where = f" at line {diag.internal_query[: int(diag.internal_position)].count(chr(10)) + 1}"
        else:  # an error while it ran: the first line naming what the message names
            for found in re.findall(r'"([^"]+)"', diag.message_primary or ""):
                lines = [n for n, line in enumerate(text.splitlines(), 1) if found in line]
                if lines:
                    where = f" at line {lines[0]}"
                    break
        raise MigrationError(f"migration {shown or name}{where} failed, nothing of it was applied: {diag.message_primary or exc}",
                             hint=diag.message_hint) from None
