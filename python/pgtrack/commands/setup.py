"""SQLTrack 0.1.4's ``sqltrack.commands.setup``: set up the database and apply migration scripts.

``setup(client, scripts)`` runs ``pgtrack.setup()`` first (SQLTrack's ``base.sql``), then each script
once, by name, in the order given, and prints ``(NEW) name`` or ``(OK) name`` for each, as SQLTrack
did. A script is a file path (a directory: its ``*.sql`` files in name order) or, as 0.1.4 allows, a
``(name, sql)`` pair written inline. Scripts run as in :mod:`pgtrack.commands.migrate` (SQLTrack's
``BEGIN; ... END;`` accepted, unqualified table names reach pgtrack's tables, each script recorded in
its own transaction). Every script is checked before anything runs: a missing file, a pair that is
not two strings, or the name ``base.sql`` raises and applies nothing.

Unlike SQLTrack, a ``Client(schema=...)`` does not make setup create that schema: pgtrack's tables
always live in schema pgtrack, and the Client's schema is only searched (pgtrack.config).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, List, Sequence, Tuple, Union

from ..errors import SchemaValidationError
from ..migrations import apply_text, script_paths

Script = Union[str, Path, Tuple[str, str]]


def _resolve(scripts: Union[Script, Iterable[Script]]) -> List[Tuple[str, str, str]]:
    """(name, text, shown) for every script, in order; raises before anything runs."""
    items: Sequence[Any] = [scripts] if isinstance(scripts, (str, Path)) else list(scripts)
    resolved: List[Tuple[str, str, str]] = []
    for item in items:
        if isinstance(item, (str, Path)):
            resolved.extend((path.name, path.read_text(), str(path)) for path in script_paths(item))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item):
            resolved.append((item[0], item[1], item[0]))
        else:
            raise SchemaValidationError(f"a script is a file path or a (name, sql) pair of strings, got {item!r:.80}",
                                        hint='setup(client, ["v001.sql", ("v002", "ALTER TABLE metrics ADD COLUMN acc float")])')
    for name, _, shown in resolved:
        if not name.strip():
            raise SchemaValidationError(f"script {shown!r}: a script needs a name", hint="name it as you would its file: v002.sql")
        if name == "base.sql":
            raise SchemaValidationError(f"{shown}: base.sql is the setup step's name", hint="rename the script")
    return resolved


def setup(client: Any, scripts: Union[Script, Iterable[Script]] = ()) -> List[Tuple[str, bool]]:
    """[(name, ran now)] after ``pgtrack.setup()`` and every script; prints ``(NEW)``/``(OK) name``."""
    resolved = _resolve(scripts)
    client.execute("SELECT pgtrack.setup()")
    done = []
    for name, text, shown in resolved:
        ran = apply_text(client, name, text, shown)
        print(f"({'NEW' if ran else 'OK'}) {name}")
        done.append((name, ran))
    return done
