"""The peers' released source distributions, fetched at test time into a cache outside the clone.

The project keeps none of the peers' code: ``pip download --no-deps --no-binary :all:`` (the venv's pip)
fetches the pinned sdist once into the cache, with ``--require-hashes`` so that pip checks its SHA-256
against the digest below (the archive PyPI served when the pin was made) before it prepares the
package's metadata, and it is extracted there for the harness to read. The
cache is ``$PGTRACK_PEER_CACHE``, else ``/var/cache/pgtrack/peers`` when that can be written, else
``~/.cache/pgtrack/peers``. Lanes that run at once share it: every file and directory is made under a
temporary name and renamed into place, so a reader never sees half of one.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# name -> (version, sha256 of the sdist)
PINS = {
    "wallow": ("0.2.1", "3f8743205dbe89c265406d639a1e3e49d19bb2733351d6554a332ceca54c2aec"),
    "sqltrack": ("0.1.4", "8177f097a0278051ea063df33cb33d399218a2fc3856a44a59f2012d4e93cf6a"),
}


class Unavailable(Exception):
    """The sdist could not be fetched or does not match its pin (the message says why)."""


def cache_dir() -> Path:
    named = os.environ.get("PGTRACK_PEER_CACHE")
    if named:
        return Path(named)
    system = Path("/var/cache/pgtrack/peers")
    try:
        system.mkdir(parents=True, exist_ok=True)
        if os.access(system, os.W_OK | os.X_OK):
            return system
    except OSError:
        pass
    return Path.home() / ".cache" / "pgtrack" / "peers"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(name: str, version: str, digest: str, archive: Path) -> None:
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".download-") as tmp:
        requirement = Path(tmp) / "requirement.txt"
        requirement.write_text(f"{name}=={version} --hash=sha256:{digest}\n")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--require-hashes",
                   "--disable-pip-version-check", "-q", "-d", tmp, "-r", str(requirement)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"pip download {name}=={version}: {exc}") from None
        got = Path(tmp) / archive.name
        if done.returncode != 0 or not got.exists():
            raise Unavailable(f"pip download {name}=={version} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        if _sha256(got) != digest:  # pip checked it; so does this, against what was written
            raise Unavailable(f"{got.name}: SHA-256 {_sha256(got)} is not the pinned {digest}")
        os.replace(got, archive)


def _extract(archive: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".extract-") as tmp:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():  # a pinned archive, still: nothing outside tmp, no links
                if member.name.startswith("/") or ".." in Path(member.name).parts or not (member.isfile() or member.isdir()):
                    raise Unavailable(f"{archive.name}: refusing member {member.name!r}")
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        try:
            os.rename(Path(tmp) / target.name, target)
        except OSError:
            if not (target / "PKG-INFO").exists():  # not another lane's copy that won the race
                raise


def sdist(name: str) -> Path:
    """The extracted sdist of the pinned version of ``name`` (``wallow`` or ``sqltrack``), fetched and
    checked first if the cache does not hold it. Unavailable when that fails."""
    version, digest = PINS[name]
    base = cache_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(f"cannot create the peer cache {base}: {exc}") from None
    archive = base / f"{name}-{version}.tar.gz"
    if not archive.exists() or _sha256(archive) != digest:
        _download(name, version, digest, archive)
    target = base / f"{name}-{version}"
    if not (target / "PKG-INFO").exists():
        shutil.rmtree(target, ignore_errors=True)
        _extract(archive, target)
    return target
