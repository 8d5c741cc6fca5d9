"""The extension's files, shipped inside the Python package, and copying them into a server.

A wheel carries ``pgtrack.control`` and every ``pgtrack--*.sql`` (install and upgrade scripts) in
``pgtrack/_extension``; an editable install from the repository uses its ``extension/`` folder (first,
so a stale ``_extension`` left by ``make wheel`` never wins over the files ``make`` just generated).
``install_extension()`` copies them into ``SHAREDIR/extension`` of the server that ``pg_config``
describes (or into a share directory you name), which needs write access there: root for a system
server, nothing for an embedded or self-built one. Managed servers (RDS, Cloud SQL, ...) allow
neither; there, see docs (issue 10: a plain-SQL install).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional


def extension_files() -> List[Path]:
    """The control file and SQL scripts this package carries."""
    here = Path(__file__).resolve().parent
    for folder in (here.parents[1] / "extension", here / "_extension"):
        files = sorted(folder.glob("pgtrack--*.sql"))
        if files and (folder / "pgtrack.control").is_file():
            return [folder / "pgtrack.control", *files]
    raise FileNotFoundError("this pgtrack package carries no extension files (build the wheel with make wheel)")


def sharedir(pg_config: Optional[str] = None) -> Path:
    """SHAREDIR of the server pg_config describes (PG_CONFIG, else pg_config on PATH)."""
    exe = pg_config or os.environ.get("PG_CONFIG") or shutil.which("pg_config")
    if not exe:
        raise FileNotFoundError("pg_config not found: pass --pg-config PATH (or set PG_CONFIG) for the target server")
    return Path(subprocess.run([exe, "--sharedir"], check=True, capture_output=True, text=True).stdout.strip())


def install_extension(share: Optional[os.PathLike] = None, pg_config: Optional[str] = None) -> List[Path]:
    """Copy the extension files into SHAREDIR/extension; returns the paths written."""
    target = Path(share) if share else sharedir(pg_config)
    folder = target / "extension"
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write {folder}: run as a user who may (e.g. sudo), or use a server you own")
    written = []
    for source in extension_files():
        shutil.copyfile(source, folder / source.name)
        written.append(folder / source.name)
    return written
