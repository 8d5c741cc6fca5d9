"""SQLTrack's ``sqltrack.commands.migrate``: set up the database and apply migration scripts.

``migrate(client, paths)`` runs ``pgtrack.setup()`` first (SQLTrack's ``base.sql``), then each script
once, by file name, in the order given (a directory: its ``*.sql`` files in name order). SQLTrack's
scripts work as written: a ``BEGIN; ... END;`` around the whole script is accepted (the script runs
in pgtrack.migrate's own transaction), and unqualified table names (``ALTER TABLE metrics ...``) find
pgtrack's tables. ``base.sql`` cannot be a user script's name, as in SQLTrack.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, List, Tuple, Union

from ..errors import SchemaValidationError
from ..migrations import apply, script_paths


def migrate(client: Any, paths: Union[str, Path, Iterable[Union[str, Path]]]) -> List[Tuple[Path, bool]]:
    """[(script, ran now)] after setup() and every script."""
    scripts = script_paths(paths)
    for path in scripts:
        if path.name == "base.sql":
            raise SchemaValidationError(f"{path}: base.sql is the setup step's name", hint="rename the script")
    client.execute("SELECT pgtrack.setup()")
    return [(path, apply(client, path)) for path in scripts]
