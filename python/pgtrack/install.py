"""The extension's files, shipped inside the Python package, and copying them into a server.

A wheel carries ``pgtrack.control`` and every ``pgtrack--*.sql`` (install and upgrade scripts) in
``pgtrack/_extension`` (generated from sql/ by the build backend, tools/build_backend.py); in a checkout
(an editable install) that folder is regenerated whenever sql/ is newer, so it never goes stale.
``install_extension()`` copies them into ``SHAREDIR/extension`` of the server that ``pg_config``
describes (or into a share directory you name), which needs write access there: root for a system
server, nothing for an embedded or self-built one. Managed servers (RDS, Cloud SQL, ...) allow
neither; there, use the plain-SQL install (pgtrack setup --plain, docs/install.md).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional


def extension_files() -> List[Path]:
    """The control file and SQL scripts this package carries. In a checkout (an editable install, or
    the tests), they are generated from sql/ first when sql/ changed since they were last written."""
    here = Path(__file__).resolve().parent
    folder = here / "_extension"
    builder = here.parents[1] / "tools" / "extension_build.py"
    if builder.is_file() and (here.parents[1] / "sql").is_dir():
        _refresh_from_checkout(builder, folder)
    files = sorted(folder.glob("pgtrack--*.sql"))
    if files and (folder / "pgtrack.control").is_file():
        return [folder / "pgtrack.control", *files]
    raise FileNotFoundError(f"this pgtrack package carries no extension files in {folder}: "
                            "reinstall it with pip (pip install . builds them from sql/)")


def _refresh_from_checkout(builder: Path, folder: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pgtrack_extension_build", builder)
    assert spec is not None and spec.loader is not None  # a .py file: the source loader takes it
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    newest_input = max(p.stat().st_mtime for p in module.inputs())
    outputs = list(folder.glob("pgtrack*"))
    if not outputs or min(p.stat().st_mtime for p in outputs) < newest_input:
        for path in module.write(folder):
            path.touch()


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
        # whole or not at all (a copy beside it, renamed over it): a server running CREATE EXTENSION
        # or ALTER EXTENSION UPDATE meanwhile reads the old script or the new one, never half of one
        temporary = folder / f".{source.name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)  # a crashed run's leftover, or something planted there: never followed
        # O_EXCL: a name someone else makes between the unlink and here (a symlink, say) is refused, not written through
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(source.read_bytes())
            os.fchmod(out.fileno(), 0o644)  # whatever the umask: the server's user reads it (on the file opened, not the path)
        os.replace(temporary, folder / source.name)
        written.append(folder / source.name)
    return written
