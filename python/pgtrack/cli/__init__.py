"""The ``pgtrack`` command line (also ``python -m pgtrack``).

    pgtrack [connection options] [--json] COMMAND ...    (global options also after the command)

Commands: setup [SCRIPT.sql ...], status, experiments [rename OLD NEW | delete NAME [--yes]],
runs [EXPERIMENT] [--status S], inspect RUN, metrics add NAME [TYPE], metrics list, schema apply
FILE.toml, report EXPERIMENT [-o FILE.html], recover, dsn, psql [PSQL ARGS], embedded status,
embedded stop [--force], plain-sql [--upgrade-from VERSION]. A mistyped command or experiment gets
"did you mean"; output into a closed pipe (``| head``) ends quietly.
Connection options as SQLTrack's (-u/--user, -a/--host (host or host:port), -p/--port, -d/--database,
-c/--config-path) plus --dsn; otherwise the Client's usual sources (PGTRACK_DSN_*, pgtrack.conf, PG*),
and with none of them the embedded server (pgtrack.embedded).

Output: aligned tables, or JSON with --json. Errors: one line on stderr naming what to do, never a
traceback (PGTRACK_DEBUG=1 shows it). Exit codes:
  0 ok; 1 usage error; 2 not found (experiment, run, file); 3 database unreachable;
  4 permission denied; 5 refused by pgtrack (invalid value, duplicate, lease lost, schema change
  refused); 6 pgtrack is not installed in the database; 10 unexpected error.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from typing import Any, List, Optional

from .. import __version__
from ..client import Client
from . import database, experiments, server, sweep, views
from ._common import (
    EXIT_BUG,
    EXIT_DENIED,
    EXIT_NOT_FOUND,
    EXIT_NOT_INSTALLED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    CliError,
    Parser,
    _Commands,
    _global_options,
    emit,
    emit_record,
)
from ._errors import _explain
from .database import cmd_plain_sql, cmd_setup, cmd_status
from .experiments import (
    cmd_experiments,
    cmd_experiments_delete,
    cmd_experiments_lost_after,
    cmd_experiments_rename,
    cmd_inspect,
    cmd_metrics,
    cmd_runs,
    cmd_schema,
)
from .server import cmd_dsn, cmd_embedded_status, cmd_embedded_stop, cmd_psql
from .sweep import cmd_recover, cmd_sweep
from .views import cmd_report, cmd_ui

__all__ = [
    "main", "build_parser", "parse", "client_from", "CliError", "emit", "emit_record",
    "EXIT_OK", "EXIT_USAGE", "EXIT_NOT_FOUND", "EXIT_UNREACHABLE", "EXIT_DENIED", "EXIT_REFUSED", "EXIT_NOT_INSTALLED", "EXIT_BUG",
    "cmd_setup", "cmd_plain_sql", "cmd_status", "cmd_experiments", "cmd_experiments_rename", "cmd_experiments_lost_after",
    "cmd_experiments_delete", "cmd_runs", "cmd_inspect", "cmd_metrics", "cmd_schema", "cmd_report", "cmd_ui", "cmd_sweep",
    "cmd_recover", "cmd_dsn", "cmd_psql", "cmd_embedded_status", "cmd_embedded_stop",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pgtrack", description="Experiment tracking and a deduplicating run registry inside PostgreSQL.",
                    epilog="global options go before or after the command. exit codes: 0 ok, 1 usage, 2 not found, "
                           "3 database unreachable, 4 permission denied, 5 refused by pgtrack, 6 pgtrack not installed, "
                           "10 unexpected error")
    parser.add_argument("--version", action="version", version=f"pgtrack {__version__}")
    _global_options(parser, defaults=True)
    commands = _Commands(parser, "command", "COMMAND")
    # The order here is the order of the commands in --help and in "unknown command" messages.
    database.register(commands)     # setup, plain-sql, status
    experiments.register(commands)  # experiments, runs, inspect, metrics, schema
    views.register(commands)        # report, ui
    sweep.register(commands)        # sweep, recover
    server.register(commands)       # dsn, psql, embedded
    return parser


def client_from(opts: argparse.Namespace) -> Client:
    host, port = opts.host, opts.port
    if host and ":" in host and port is None and host.rsplit(":", 1)[1].isdigit():
        host, port = host.rsplit(":", 1)  # SQLTrack's -a "host (and port)"; a socket directory works too
    return Client(config_path=opts.config_path, read_dsn=opts.read_dsn, dsn=opts.dsn, user=opts.user, host=host, port=port,
                  dbname=opts.database, schema=getattr(opts, "schema", None))


def parse(argv: List[str]) -> argparse.Namespace:
    """argparse, except that everything after the command ``psql`` goes to psql untouched, and
    everything after ``--`` to ``sweep``'s command."""
    parser = build_parser()
    if "--" in argv and "sweep" in argv[:argv.index("--")]:
        cut = argv.index("--")
        opts = parser.parse_args(argv[:cut])
        if getattr(opts, "handler", None) is cmd_sweep:
            opts.command_args = argv[cut + 1:]
            return opts
    for i, word in enumerate(argv):
        if word == "psql":
            try:
                with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
                    opts = parser.parse_args(argv[:i + 1])
            except SystemExit:
                continue  # "psql" was an option's value
            opts.psql_args = argv[i + 1:]
            return opts
    return parser.parse_args(argv)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Warnings on the command line as one line each, like errors: no source file, no source line."""
    text = str(message)
    print(text if text.startswith("pgtrack: ") else f"pgtrack: warning: {text}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    warnings.showwarning = _show_warning
    opts = parse(sys.argv[1:] if argv is None else list(argv))
    try:
        if not getattr(opts, "needs_client", True):
            code = opts.handler(None, opts)
        else:
            client = client_from(opts)
            try:
                code = opts.handler(client, opts)
            finally:
                client.close()
        sys.stdout.flush()  # a closed pipe shows here, inside the try
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pgtrack runs | head`: the reader is gone; end quietly
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # one line, never a traceback
        if os.environ.get("PGTRACK_DEBUG"):
            raise
        error = _explain(exc)
        print(f"pgtrack: error: {error}", file=sys.stderr)
        return error.code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not complain about the pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

