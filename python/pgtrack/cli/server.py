"""Reaching the server by hand: dsn, psql, and the per-user embedded server (embedded status, embedded stop)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Optional

from ..client import Client
from ._common import EXIT_OK, EXIT_REFUSED, CliError, _Commands, emit_record


def cmd_dsn(client: Client, opts: argparse.Namespace) -> int:
    print(client.conninfo)
    return EXIT_OK


def cmd_psql(client: Client, opts: argparse.Namespace) -> int:
    from ..embedded import psql_program

    sys.stdout.flush()
    return subprocess.run([psql_program(client.embedded), "-d", client.conninfo, *opts.psql_args]).returncode


def cmd_embedded_status(client: Optional[Client], opts: argparse.Namespace) -> int:
    from .. import embedded

    emit_record(opts, embedded.status())
    return EXIT_OK


def cmd_embedded_stop(client: Optional[Client], opts: argparse.Namespace) -> int:
    from .. import embedded

    server = embedded.EmbeddedServer(embedded.directory())
    if not opts.force:
        clients = server.clients()
        if clients:
            raise CliError(f"{len(clients)} client(s) are connected to the embedded server ({', '.join(clients[:5])}); "
                           "stopping it now would cut them off: pass --force to stop anyway", EXIT_REFUSED)
    stopped = server.stop()
    print("stopped the embedded server" if stopped else "the embedded server was not running")
    return EXIT_OK


def register(commands: _Commands) -> None:
    p = commands.add("dsn", help="print the connection string pgtrack uses (e.g. for psql \"$(pgtrack dsn)\")")
    p.set_defaults(handler=cmd_dsn)
    p = commands.add("psql", help="run psql on pgtrack's database (the embedded server's own psql there)")
    p.add_argument("psql_args", nargs="*", metavar="PSQL ARGS", help="passed to psql as they are (e.g. -f FILE)")
    p.set_defaults(handler=cmd_psql)
    p = commands.add("embedded", help="the per-user embedded server: status, stop")
    embedded_commands = _Commands(p, "embedded_command", "ACTION")
    q = embedded_commands.add("status", help="its directory, version, whether it runs (starts nothing)")
    q.set_defaults(handler=cmd_embedded_status, needs_client=False)
    q = embedded_commands.add("stop", help="stop it (the next use starts it again); refused while clients are connected")
    q.add_argument("--force", action="store_true", help="stop even while clients are connected (they lose their connection)")
    q.set_defaults(handler=cmd_embedded_stop, needs_client=False)
