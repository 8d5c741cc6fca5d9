"""The plain-SQL install, for servers where extension files cannot be copied (RDS, Cloud SQL, Azure,
Supabase, ...): the same objects in schema ``pgtrack``, created by an ordinary SQL script.

The scripts are made from the extension's own install and upgrade scripts (the files this package
carries), so both installs run the same code: the guard line that stops psql is dropped, the body runs
in one transaction with ``search_path`` as CREATE EXTENSION would set it, and the script ends by
recording the version in ``pgtrack.plain_version()`` and calling ``pgtrack.setup()``
(``check_function_bodies`` is off and ``client_min_messages`` at warning while the body runs, as
during CREATE EXTENSION). A failed script
changes nothing.

Upgrades run the extension's upgrade scripts the same way, one step after another (``pgtrack setup
--plain``, or ``psql -f`` on each file from ``pgtrack plain-sql --upgrade-from VERSION``); each step
first checks the recorded version. What is lost without CREATE EXTENSION: ``ALTER EXTENSION pgtrack
UPDATE`` (use the above), ``DROP EXTENSION`` (use ``pgtrack.teardown()`` then ``DROP SCHEMA pgtrack
CASCADE``), and ``\\dx`` / ``pg_available_extensions`` listing it; pg_dump saves every function then.
"""
from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .install import extension_files

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
FILE_RE = re.compile(r"^pgtrack--(\d+\.\d+\.\d+)(?:--(\d+\.\d+\.\d+))?\.sql$")


def _scripts() -> Tuple[Dict[str, Path], Dict[Tuple[str, str], Path], str]:
    """(install scripts by version, upgrade scripts by (from, to), the control file's default_version)."""
    installs: Dict[str, Path] = {}
    upgrades: Dict[Tuple[str, str], Path] = {}
    default = None
    for path in extension_files():
        if path.name == "pgtrack.control":
            found = re.search(r"^default_version\s*=\s*'([^']+)'", path.read_text(), re.M)
            default = found.group(1) if found else None
            continue
        match = FILE_RE.match(path.name)
        if match and match.group(2):
            upgrades[(match.group(1), match.group(2))] = path
        elif match:
            installs[match.group(1)] = path
    if default is None or default not in installs:
        raise FileNotFoundError("the extension files carry no install script of their default version")
    return installs, upgrades, default


def current_version() -> str:
    """The version this package installs."""
    return _scripts()[2]


def _body(path: Path) -> str:
    """An extension script without its psql guard (``\\echo ... \\quit``)."""
    return "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("\\echo "))


def _wrap(check: str, body: str, version: str, title: str) -> str:
    if not VERSION_RE.match(version):
        raise ValueError(f"not a pgtrack version: {version!r}")
    return f"""-- {title}
-- Run with: psql -v ON_ERROR_STOP=1 -f THIS_FILE   (or let pgtrack setup --plain do it)
BEGIN;
{check}
-- as CREATE EXTENSION runs a script: SQL function bodies are not parsed before the tables exist
SET LOCAL search_path = pgtrack, pg_temp;
SET LOCAL check_function_bodies = off;
SET LOCAL client_min_messages = warning;
{body}
RESET client_min_messages;
-- ---- the version of this plain install
CREATE OR REPLACE FUNCTION pgtrack.plain_version() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$SELECT '{version}'::text$$;
COMMENT ON FUNCTION pgtrack.plain_version() IS
$$Version of pgtrack installed by the plain SQL script (no CREATE EXTENSION); each upgrade script replaces it.$$;
SELECT pgtrack.setup();
COMMIT;
"""


INSTALL_CHECK = """DO $$
BEGIN
    IF to_regnamespace('pgtrack') IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PT005',
            MESSAGE = format('schema pgtrack already exists in database %s', current_database()),
            HINT = 'to upgrade pgtrack run pgtrack setup (or the plain upgrade script, or ALTER EXTENSION pgtrack UPDATE '
                   'for the extension); to install afresh, drop the schema first';
    END IF;
END
$$;
CREATE SCHEMA pgtrack;"""

UPGRADE_CHECK = """DO $$
DECLARE
    v_found text;
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pgtrack') THEN
        RAISE EXCEPTION USING ERRCODE = 'PT005', MESSAGE = 'pgtrack is installed as an extension in this database',
            HINT = 'upgrade it with ALTER EXTENSION pgtrack UPDATE';
    END IF;
    IF to_regprocedure('pgtrack.plain_version()') IS NOT NULL THEN
        EXECUTE 'SELECT pgtrack.plain_version()' INTO v_found;
    END IF;
    IF v_found IS DISTINCT FROM '%(from)s' THEN
        RAISE EXCEPTION USING ERRCODE = 'PT005',
            MESSAGE = format('this script upgrades a plain pgtrack %(from)s, but database %%s has %%s', current_database(),
                             coalesce('pgtrack ' || v_found, 'no plain pgtrack install')),
            HINT = 'pgtrack setup --plain picks the right scripts; pgtrack plain-sql --upgrade-from VERSION prints them';
    END IF;
END
$$;"""


def install_sql(version: Optional[str] = None) -> str:
    """The plain install script of ``version`` (default: this package's)."""
    installs, _, default = _scripts()
    version = version or default
    if version not in installs:
        raise FileNotFoundError(f"no install script for pgtrack {version}; have {', '.join(sorted(installs))}")
    return _wrap(INSTALL_CHECK, _body(installs[version]), version, f"pgtrack {version}: plain SQL install (no CREATE EXTENSION)")


def upgrade_path(start: str, goal: Optional[str] = None) -> List[Tuple[str, str]]:
    """The shortest chain of upgrade steps from ``start`` to ``goal`` (default: this package's version)."""
    _, upgrades, default = _scripts()
    goal = goal or default
    previous: Dict[str, Optional[Tuple[str, str]]] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for step in sorted(upgrades):
            if step[0] == here and step[1] not in previous:
                previous[step[1]] = step
                queue.append(step[1])
    if goal not in previous:
        raise FileNotFoundError(f"no upgrade path from pgtrack {start} to {goal} in this package's scripts")
    steps: List[Tuple[str, str]] = []
    while (back := previous[goal]) is not None:
        steps.append(back)
        goal = back[0]
    return steps[::-1]


def upgrade_sql(start: str, goal: str) -> str:
    """The plain script of one upgrade step (it refuses to run on any version but ``start``)."""
    _, upgrades, _ = _scripts()
    if (start, goal) not in upgrades:
        raise FileNotFoundError(f"no upgrade script from pgtrack {start} to {goal}")
    check = UPGRADE_CHECK % {"from": start}
    return _wrap(check, _body(upgrades[(start, goal)]), goal, f"pgtrack {start} -> {goal}: plain SQL upgrade")


def installed(client) -> Tuple[Optional[str], Optional[str]]:
    """(extension version, plain version) of pgtrack in the client's database; None where absent."""
    ext = client.value("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgtrack'")
    has_plain = client.value("SELECT to_regprocedure('pgtrack.plain_version()') IS NOT NULL")
    return ext, (client.value("SELECT pgtrack.plain_version()") if has_plain else None)


def install_or_upgrade(client) -> List[str]:
    """Install pgtrack as plain SQL, or bring a plain install up to this package's version; each
    script is its own transaction. Returns what was done (empty when already current)."""
    ext, plain = installed(client)
    if ext is not None:
        from .errors import SchemaChangeError

        raise SchemaChangeError(f"pgtrack {ext} is installed as an extension in this database",
                                hint="upgrade it with ALTER EXTENSION pgtrack UPDATE (or pgtrack setup without --plain)")
    if plain is None:
        client.execute(install_sql())
        return [f"installed pgtrack {current_version()} as plain SQL (no CREATE EXTENSION)"]
    done = []
    for start, goal in upgrade_path(plain):
        client.execute(upgrade_sql(start, goal))
        done.append(f"upgraded plain pgtrack {start} -> {goal}")
    return done
