"""The Python build backend: setuptools, after generating the extension's scripts from sql/.

pyproject.toml names it (``backend-path = ["tools"]``), so ``pip install .``, ``pip install -e .``,
``pip install ".[embedded]"`` and ``python -m build`` (sdist and wheel) all put the control file and
every install/upgrade script into ``python/pgtrack/_extension`` before setuptools packs it; no ``make``
is needed first. The sdist carries sql/, extension/ and tools/ (MANIFEST.in), so a wheel built from it
generates the same files; a tree without sql/ (nothing to generate from) uses the files it has.
"""
from __future__ import annotations

from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (every hook we do not override)

import extension_build

PACKAGE_EXTENSION = Path("python") / "pgtrack" / "_extension"


def _generate() -> None:
    root = Path.cwd()
    if (root / "sql").is_dir() and (root / "extension" / "pgtrack.control").is_file():
        extension_build.write(root / PACKAGE_EXTENSION, root=root)
    elif not any((root / PACKAGE_EXTENSION).glob("pgtrack--*.sql")):
        raise RuntimeError("neither sql/ nor python/pgtrack/_extension: cannot build pgtrack's extension files")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _generate()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    _generate()
    return _setuptools.build_sdist(sdist_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _generate()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
