"""Connection settings: libpq parameters from kwargs > ``PGTRACK_DSN_<PARAM>`` > a config file.

The config file is ``config_path``, else ``$PGTRACK_CONFIG_PATH`` (or SQLTrack's ``$SQLTRACK_CONFIG_PATH``),
else ``./pgtrack.conf``, else SQLTrack's ``./sqltrack.conf`` (ignored when no default file exists; a path
you name must exist). SQLTrack's ``SQLTRACK_DSN_<PARAM>`` variables are read too, below pgtrack's. It holds ``key=value`` lines of libpq
keywords (``host``, ``port``, ``dbname``, ``user``, ...); ``#`` and ``;`` start comments and a
``[section]`` header is ignored, so SQLTrack's files work. A ``dsn`` (a conninfo string or a
``postgresql://`` URL) may come from any of the three sources; the other parameters override it.
Anything not given falls to libpq's own defaults (``PGHOST``, ``PGPORT``, ``PGUSER``, ...).

``schema`` (from any of the three sources; SQLTrack's shorthand for the session's search_path) makes
every connection of the Client, its clones, reconnects and replica reader alike, start with
``search_path = pg_catalog, pgtrack, <schema>`` (just ``pg_catalog, pgtrack`` for ``schema=pgtrack``),
so SQL written for SQLTrack (``SELECT ... FROM runs``) reaches pgtrack's tables by their plain names.
pg_catalog first, so no schema can take the place of a built-in function, operator or type; pgtrack
next, so no other schema (``public``, the named one) can take the place of pgtrack's tables; the named
schema only after both. pgtrack's own statements name their schema and need none of it. The value is
one schema's name as stored (case-sensitive, quoted as an identifier: a hostile value stays a name and
cannot add options); it goes into the connection's ``options`` after the ``options`` already given
(those of the settings, else of ``dsn``, else ``PGOPTIONS``), so it wins over a search_path set
there. A service file's ``options`` are replaced (name them in ``options=`` instead). Unlike SQLTrack,
pgtrack does not create the schema: its tables always live in schema pgtrack.

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
    """Merge the three sources, highest priority last; ``schema`` checked (ConfigError), dropped if empty."""
    environ = os.environ if environ is None else environ
    params = _read_config(config_path, environ)
    for prefix in (SQLTRACK_ENV_PREFIX, ENV_PREFIX):  # pgtrack's own names win
        params.update({k[len(prefix):].lower(): v for k, v in environ.items() if k.startswith(prefix)})
    params.update({k: str(v) for k, v in (kwargs or {}).items() if v is not None})
    for alias, name in _ALIASES.items():
        if alias in params:
            params.setdefault(name, params.pop(alias))
    schema = params.pop("schema", None)
    if schema:
        params["schema"] = check_schema(schema)
    return params


PGTRACK_SCHEMA = "pgtrack"
_MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1: a longer name would be cut short, silently


def check_schema(name: str) -> str:
    """``name`` if it can name a schema (1 to 63 bytes of UTF-8, no control characters), else
    ConfigError; nothing about it is trusted beyond that: search_path() quotes it."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"schema must be a schema's name, got {name!r:.80}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ConfigError(f"schema {name!r:.80} holds a control character", hint="name one schema, e.g. schema=pgtrack")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigError(f"schema {name!r:.80} is not valid Unicode") from None
    if size > _MAX_NAME_BYTES:
        raise ConfigError(f"schema {name[:40]!r}... is {size} bytes long; PostgreSQL names hold at most {_MAX_NAME_BYTES}")
    return name


def search_path(schema: str) -> str:
    """The session's search_path for ``Client(schema=...)``: pg_catalog, pgtrack, then the schema
    (quoted as an identifier) unless it is pgtrack."""
    path = ["pg_catalog", PGTRACK_SCHEMA]
    if schema != PGTRACK_SCHEMA:
        path.append('"' + schema.replace('"', '""') + '"')
    return ",".join(path)


def _options_with_search_path(options: str, schema: str) -> str:
    """``options`` plus ``-c search_path=...``, escaped as libpq's options are split: at unescaped
    white space, a backslash making the next character literal."""
    value = search_path(schema).replace("\\", "\\\\").replace(" ", "\\ ")
    return f"{options} -c search_path={value}".strip()


def conninfo(params: Mapping[str, str], environ: Optional[Mapping[str, str]] = None) -> str:
    """A libpq connection string from resolved parameters (``dsn`` first, the rest overriding it);
    ``schema`` becomes the search_path in ``options`` (see the module docstring)."""
    rest = dict(params)
    dsn = rest.pop("dsn", "")
    schema = rest.pop("schema", None)
    if schema:
        environ = os.environ if environ is None else environ
        given: Any = rest.get("options")
        if given is None:  # what libpq would have used: the dsn's options, else PGOPTIONS
            given = conninfo_to_dict(dsn).get("options") if dsn else None
            given = environ.get("PGOPTIONS", "") if given is None else given
        rest["options"] = _options_with_search_path(str(given or ""), check_schema(schema))
    return make_conninfo(dsn, **rest)


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
