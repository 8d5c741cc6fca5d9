"""Connection settings: libpq parameters from kwargs > ``PGTRACK_DSN_<PARAM>`` > a config file.

The config file is ``config_path``, else ``$PGTRACK_CONFIG_PATH`` (or SQLTrack's ``$SQLTRACK_CONFIG_PATH``),
else ``./pgtrack.conf``, else SQLTrack's ``./sqltrack.conf`` (ignored when no default file exists; a path
you name must exist). SQLTrack's ``SQLTRACK_DSN_<PARAM>`` variables are read too, below pgtrack's. It holds ``key=value`` lines of libpq
keywords (``host``, ``port``, ``dbname``, ``user``, ...); ``#`` and ``;`` start comments and a
``[section]`` header is ignored, so SQLTrack's files work. A ``dsn`` (a conninfo string or a
``postgresql://`` URL) may come from any of the three sources; the other parameters override it.
Anything not given falls to libpq's own defaults (``PGHOST``, ``PGPORT``, ``PGUSER``, ...).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from psycopg.conninfo import make_conninfo

ENV_PREFIX = "PGTRACK_DSN_"
SQLTRACK_ENV_PREFIX = "SQLTRACK_DSN_"  # SQLTrack's names, read too (below pgtrack's own)
DEFAULT_CONFIG = "pgtrack.conf"
SQLTRACK_CONFIG = "sqltrack.conf"
# SQLTrack's README wrote database=...; libpq calls it dbname.
_ALIASES = {"database": "dbname"}


def read_config_file(path: Path) -> Dict[str, str]:
    """``key=value`` lines of a config file as a dict (keys lower-cased)."""
    params: Dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;" or (line.startswith("[") and line.endswith("]")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected key=value, got {raw!r}")
        params[key.strip().lower()] = value.strip()
    return params


def _config_path(config_path: Optional[os.PathLike], environ: Mapping[str, str]) -> Optional[Path]:
    named = config_path or environ.get("PGTRACK_CONFIG_PATH") or environ.get("SQLTRACK_CONFIG_PATH")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(f"pgtrack config file {path} does not exist")
        return path
    return next((Path(name) for name in (DEFAULT_CONFIG, SQLTRACK_CONFIG) if Path(name).is_file()), None)


def resolve_params(config_path: Optional[os.PathLike] = None, kwargs: Optional[Mapping[str, Any]] = None,
                   environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Merge the three sources, highest priority last."""
    environ = os.environ if environ is None else environ
    params: Dict[str, str] = {}
    path = _config_path(config_path, environ)
    if path is not None:
        params.update(read_config_file(path))
    for prefix in (SQLTRACK_ENV_PREFIX, ENV_PREFIX):  # pgtrack's own names win
        params.update({k[len(prefix):].lower(): v for k, v in environ.items() if k.startswith(prefix)})
    params.update({k: str(v) for k, v in (kwargs or {}).items() if v is not None})
    for alias, name in _ALIASES.items():
        if alias in params:
            params.setdefault(name, params.pop(alias))
    schema = params.pop("schema", None)
    if schema not in (None, "", "pgtrack"):
        warnings.warn(f"schema={schema!r} ignored: pgtrack's tables always live in schema pgtrack", stacklevel=3)
    return params


def conninfo(params: Mapping[str, str]) -> str:
    """A libpq connection string from resolved parameters (``dsn`` first, the rest overriding it)."""
    rest = dict(params)
    return make_conninfo(rest.pop("dsn", ""), **rest)
