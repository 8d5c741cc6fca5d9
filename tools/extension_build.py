"""Generate the extension's scripts of the version under development from sql/.

One implementation for every way the scripts get built: ``make`` (``python3 tools/extension_build.py
extension``), the Python build backend (tools/build_backend.py: ``pip install .``, ``pip install -e .``,
``python -m build``), and an editable install that notices sql/ changed (pgtrack.install).

- The install script ``pgtrack--<version>.sql`` is every ``sql/**/*.sql`` except ``sql/upgrade/``,
  concatenated in sorted path order.
- For every hand-written ``sql/upgrade/A--<version>.sql`` (DROPs of changed signatures, ALTERs of the
  data tables), the upgrade script ``pgtrack--A--<version>.sql`` is that file, then every sql/ file
  except the types (all functions are CREATE OR REPLACE), then ``sql/upgrade/finish.sql``.
- Released versions' scripts (install and upgrade) are committed in extension/ and copied as they are.

Standard library only: it runs before any dependency is installed.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
TYPES = "sql/00_types.sql"


def version(root: Path = ROOT) -> str:
    text = (root / "extension" / "pgtrack.control").read_text()
    found = re.search(r"^default_version\s*=\s*'([^']+)'", text, re.M)
    if not found:
        raise SystemExit("extension/pgtrack.control has no default_version")
    return found.group(1)


def sources(root: Path = ROOT) -> List[str]:
    """sql/*.sql and sql/*/*.sql but not sql/upgrade/, as sorted relative paths."""
    paths = [p.relative_to(root).as_posix() for p in [*root.glob("sql/*.sql"), *root.glob("sql/*/*.sql")]]
    return sorted(p for p in paths if not p.startswith("sql/upgrade/"))


def _body(root: Path, files: List[str]) -> str:
    return "".join(f"\n-- ---- {name}\n{(root / name).read_text()}" for name in files)


def generated(root: Path = ROOT) -> Dict[str, str]:
    """File name -> text of every script generated for the version under development."""
    current = version(root)
    files = sources(root)
    scripts = {f"pgtrack--{current}.sql":
               f"-- GENERATED from sql/ -- do not edit; pgtrack {current}\n"
               '\\echo Use "CREATE EXTENSION pgtrack" to load this file. \\quit\n' + _body(root, files)}
    for hand in sorted((root / "sql" / "upgrade").glob(f"*--{current}.sql")):
        start = hand.name[: -len(f"--{current}.sql")]
        rel = hand.relative_to(root).as_posix()
        scripts[f"pgtrack--{start}--{current}.sql"] = (
            f"-- GENERATED from {rel} and sql/ -- do not edit; pgtrack {start} -> {current}\n"
            '\\echo Use "ALTER EXTENSION pgtrack UPDATE" to load this file. \\quit\n'
            + _body(root, [rel]) + _body(root, [f for f in files if f != TYPES])
            + _body(root, ["sql/upgrade/finish.sql"]))
    return scripts


def inputs(root: Path = ROOT) -> List[Path]:
    """Every file the output depends on (for staleness checks)."""
    return [root / "extension" / "pgtrack.control", *(root / f for f in sources(root)),
            *sorted((root / "sql" / "upgrade").glob("*.sql")), *sorted((root / "extension").glob("pgtrack--*.sql"))]


def write(target: Path, root: Path = ROOT, with_released: bool = True) -> List[Path]:
    """Write the generated scripts into ``target`` (and, with_released, the control file and the
    released scripts of extension/ beside them); returns the paths written. A file whose content is
    unchanged is not rewritten, so make's timestamps stay meaningful."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    scripts = generated(root)
    for name, text in scripts.items():
        path = target / name
        if not path.is_file() or path.read_text() != text:
            _replace(path, text.encode())
        written.append(path)
    if with_released and target.resolve() != (root / "extension").resolve():
        for source in [root / "extension" / "pgtrack.control", *sorted((root / "extension").glob("pgtrack--*.sql"))]:
            if source.name not in scripts:
                _replace(target / source.name, source.read_bytes())
                written.append(target / source.name)
    return written


def _replace(path: Path, content: bytes) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, renamed over it): a reader, a
    server running CREATE EXTENSION or another build, never sees half a script."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: extension_build.py TARGET_DIR")
    for path in write(Path(sys.argv[1])):
        print(f"built {path}")
