"""Connection settings: libpq parameters from kwargs > ``PGTRACK_DSN_<PARAM>`` > a config file.

The config file is ``config_path``, else ``$PGTRACK_CONFIG_PATH`` (or SQLTrack's ``$SQLTRACK_CONFIG_PATH``),
else ``./pgtrack.conf``, else SQLTrack's ``./sqltrack.conf`` (ignored when no default file exists; a path
you name must exist). SQLTrack's ``SQLTRACK_DSN_<PARAM>`` variables are read too, below pgtrack's. It holds ``key=value`` lines of libpq
keywords (``host``, ``port``, ``dbname``, ``user``, ...); ``#`` and ``;`` start comments and a
``[section]`` header is ignored, so SQLTrack's files work. A ``dsn`` (a conninfo string or a
``postgresql://`` URL) may come from any of the three sources; the other parameters override it.
Anything not given falls to libpq's own defaults (``PGHOST``, ``PGPORT``, ``PGUSER``, ...).

A config file decides where the connection goes, and with it where ``PGPASSWORD`` is sent, so it is
read only when it is yours: owned by the current user, writable by no one else, a regular file (not a
symbolic link); see :mod:`pgtrack.paths`. The default ``./pgtrack.conf`` and ``./sqltrack.conf``
may have been planted by another user in a shared working directory (``/tmp``): one that fails the
rule is ignored with a ``UserWarning`` that names it, its owner and why. A file you name fails with
:class:`pgtrack.paths.UntrustedFile` (a ``PermissionError``) instead: you asked for that file.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import PgtrackError
from .paths import UntrustedFile, read_private_text

ENV_PREFIX = "PGTRACK_DSN_"
SQLTRACK_ENV_PREFIX = "SQLTRACK_DSN_"  # SQLTrack's names, read too (below pgtrack's own)
DEFAULT_CONFIG = "pgtrack.conf"
SQLTRACK_CONFIG = "sqltrack.conf"
# SQLTrack's README wrote database=...; libpq calls it dbname.
_ALIASES = {"database": "dbname"}


class ConfigError(PgtrackError, ValueError):
    """A config file that is not ``key=value`` lines of UTF-8 text."""


def read_config_file(path: Path) -> Dict[str, str]:
    """``key=value`` lines of a config file as a dict (keys lower-cased); UntrustedFile unless the
    file is the current user's own (see the module docstring), ConfigError if it is malformed."""
    try:
        text = read_private_text(path)
    except ValueError as exc:  # not UTF-8 (an untrusted file is a PermissionError: raised as it is)
        raise ConfigError(str(exc)) from None
    return _parse(path, text)


def _parse(path: Path, text: str) -> Dict[str, str]:
    params: Dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;" or (line.startswith("[") and line.endswith("]")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{path}:{number}: expected key=value, got {raw!r}")
        params[key.strip().lower()] = value.strip()
    return params


def _read_config(config_path: Optional[os.PathLike], environ: Mapping[str, str]) -> Dict[str, str]:
    """The parameters of the config file in use (see the module docstring), or none."""
    named = config_path or environ.get("PGTRACK_CONFIG_PATH") or environ.get("SQLTRACK_CONFIG_PATH")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(f"pgtrack config file {path} does not exist")
        return read_config_file(path.resolve())  # you named it: a link you name is followed, its target checked
    for path in (Path(DEFAULT_CONFIG), Path(SQLTRACK_CONFIG)):
        try:
            return read_config_file(path)
        except FileNotFoundError:
            continue
        except UntrustedFile as exc:
            warnings.warn(f"pgtrack: ignoring the config file {os.path.abspath(path)}: {exc.reason}; only a file "
                          "of yours that no one else may write is read (if it is yours and you trust it: "
                          f"chmod go-w {path})", UserWarning, stacklevel=4)
    return {}


def resolve_params(config_path: Optional[os.PathLike] = None, kwargs: Optional[Mapping[str, Any]] = None,
                   environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Merge the three sources, highest priority last."""
    environ = os.environ if environ is None else environ
    params = _read_config(config_path, environ)
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


# A server that stops answering (a dropped link, a dead host: no reset ever comes) must not hang a
# training job: libpq waits for a connection and for unacknowledged data as long as the operating
# system does (minutes to hours). These apply unless the connection settings name them (or libpq's
# PGCONNECT_TIMEOUT does); over a Unix socket libpq ignores the TCP ones. A connection through a
# service (service=, PGSERVICE) gets none: the service file's settings are the user's to make.
NETWORK_DEFAULTS = {
    "connect_timeout": "10",       # seconds to open a connection
    "tcp_user_timeout": "30000",   # ms that sent data may stay unacknowledged (Linux)
    "keepalives": "1",
    "keepalives_idle": "30",       # an idle connection is probed after 30 s,
    "keepalives_interval": "10",   # every 10 s,
    "keepalives_count": "3",       # and given up after 3 unanswered probes
}


def network_defaults(info: str) -> Dict[str, str]:
    """The NETWORK_DEFAULTS that the connection string ``info`` (and the environment) leave open."""
    try:
        given = conninfo_to_dict(info)
    except Exception:  # psycopg reports a malformed string when it connects
        return {}
    if given.get("service") or os.environ.get("PGSERVICE"):
        return {}
    defaults = {k: v for k, v in NETWORK_DEFAULTS.items() if k not in given}
    if os.environ.get("PGCONNECT_TIMEOUT"):
        defaults.pop("connect_timeout", None)
    return defaults
