"""pgtrack in the database: setup (install, upgrade, migration scripts), plain-sql, status."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Optional

from .._statements import (
    CREATE_EXTENSION,
    CURRENT_DATABASE,
    CURRENT_USER,
    EXPERIMENT_COUNT,
    LAYOUT_VERSION,
    METRIC_COLUMN_COUNT,
    RUN_COUNTS,
    SERVER_VERSION,
    SETUP,
)
from ..client import Client
from ..plain import installed
from ._common import EXIT_NOT_INSTALLED, EXIT_OK, CliError, _Commands, emit_record


def cmd_setup(client: Client, opts: argparse.Namespace) -> int:
    from .. import plain

    if opts.install_extension:
        from ..install import install_extension

        written = install_extension(pg_config=opts.pg_config)
        print(f"installed the extension files into {written[0].parent} ({len(written)} files)")
    extension, plain_version = plain.installed(client)
    if opts.plain or (extension is None and plain_version is not None):
        for line in plain.install_or_upgrade(client):
            print(line)
    elif extension is None:
        client.execute(CREATE_EXTENSION)
        print(f"created extension pgtrack {plain.installed(client)[0]}")
    layout = client.value(SETUP)
    print(f"data tables ready (layout {layout})")
    from ..migrations import apply, script_paths

    for path in script_paths(opts.scripts):  # a missing one: FileNotFoundError, exit 2, nothing applied
        ran = apply(client, path)
        print(f"({'NEW' if ran else 'OK'}) {path.name}")
    return EXIT_OK


def cmd_plain_sql(client: Optional[Client], opts: argparse.Namespace) -> int:
    from .. import plain

    if opts.upgrade_from:
        sys.stdout.write("\n".join(plain.upgrade_sql(a, b) for a, b in plain.upgrade_path(opts.upgrade_from)))
    else:
        sys.stdout.write(plain.install_sql())
    return EXIT_OK


def cmd_status(client: Client, opts: argparse.Namespace) -> int:
    record: Dict[str, Any] = {
        "server": client.value(SERVER_VERSION),
        "database": client.value(CURRENT_DATABASE),
        "user": client.value(CURRENT_USER),
    }
    record["extension"], plain_version = installed(client)
    if plain_version is not None:
        record["plain install"] = plain_version
    elif record["extension"] is None:
        raise CliError("pgtrack is not installed in this database; run: pgtrack setup", EXIT_NOT_INSTALLED)
    record["layout"] = client.value(LAYOUT_VERSION)
    record["experiments"] = client.value(EXPERIMENT_COUNT)
    record["metric columns"] = client.value(METRIC_COLUMN_COUNT)
    for status, count in client.execute(RUN_COUNTS):
        record[f"runs {status}"] = count  # LOST: a live status whose worker went silent (pgtrack.is_lost)
    emit_record(opts, record)
    return EXIT_OK


def register(commands: _Commands) -> None:
    p = commands.add("setup", help="create the extension if missing, the data tables, then apply migration scripts")
    p.add_argument("scripts", nargs="*", metavar="SCRIPT.sql", help="applied once each, by file name, in order")
    p.add_argument("--install-extension", action="store_true",
                   help="first copy the extension files this package carries into the server's share directory")
    p.add_argument("--pg-config", metavar="PATH", help="pg_config of the target server (default: PG_CONFIG, PATH)")
    p.add_argument("--plain", action="store_true",
                   help="install (or upgrade) pgtrack as plain SQL, for servers without its extension files")
    p.set_defaults(handler=cmd_setup)
    p = commands.add("plain-sql", help="print the plain SQL install script (for psql -f), or the upgrade steps")
    p.add_argument("--upgrade-from", metavar="VERSION", help="print the upgrade steps from this plain version instead")
    p.set_defaults(handler=cmd_plain_sql, needs_client=False)
    p = commands.add("status", help="server, extension and layout versions; runs by status (LOST included)")
    p.set_defaults(handler=cmd_status)
