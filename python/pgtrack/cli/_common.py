"""What every command module shares: exit codes, CliError, the argument parsers, the output, the experiment lookup."""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any, Dict, Optional, Sequence

from .._jsonvalues import json_safe
from .._statements import EXPERIMENT_BY_REF, EXPERIMENT_NAMES_UNORDERED
from ..client import Client

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_DENIED, EXIT_REFUSED, EXIT_NOT_INSTALLED, EXIT_BUG = 0, 1, 2, 3, 4, 5, 6, 10


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 (argparse's default is 2, which here means "not found")."""

    def error(self, message: str) -> None:  # type: ignore[override]
        import re

        from .._suggest import suggest

        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong.group(2)) or [c.strip() for c in wrong.group(2).split(",")]
            hint = suggest(wrong.group(1), choices)
            message = f"unknown command {wrong.group(1)!r}" + (f"; {hint}" if hint else f" (commands: {', '.join(choices)})")
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pgtrack: error: {message}\n")


def _global_options(parser: argparse.ArgumentParser, defaults: bool, own: Sequence[str] = ()) -> None:
    """The connection options and --json. On the top-level parser with their defaults; on every
    subcommand again with SUPPRESS defaults, so they are accepted after the command too
    (``pgtrack runs sweep --json``) without undoing what was given before it. ``own``: long options
    the subcommand uses for itself (``ui --host/--port``: the database's stay -a/-p there)."""
    keep: Dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    conn = parser.add_argument_group("connection (default: PGTRACK_DSN_*, pgtrack.conf, libpq's PG* variables)")
    conn.add_argument("-u", "--user", help="database user", **keep)
    conn.add_argument(*(["-a"] if "--host" in own else ["-a", "--host"]), dest="host", help="database host, or host:port", **keep)
    conn.add_argument(*(["-p"] if "--port" in own else ["-p", "--port"]), dest="port", help="database port", **keep)
    conn.add_argument("-d", "--database", help="database name", **keep)
    conn.add_argument("-c", "--config-path", help="config file of key=value libpq settings", **keep)
    conn.add_argument("--dsn", help="a libpq connection string or postgresql:// URL", **keep)
    conn.add_argument("--read-dsn", help="a read replica for experiments, runs, inspect and report (writes: the primary)", **keep)
    conn.add_argument("-s", "--schema", help="SQLTrack's search_path shorthand: the session searches pg_catalog, pgtrack, "
                                             "then SCHEMA (pgtrack's tables always live in schema pgtrack)", **keep)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables", **keep)


class _Commands:
    """Subcommands that all accept the global options."""

    def __init__(self, parser: argparse.ArgumentParser, dest: str, metavar: str, required: bool = True):
        self.actions = parser.add_subparsers(dest=dest, metavar=metavar, parser_class=Parser)
        self.actions.required = required

    def add(self, name: str, own: Sequence[str] = (), **kwargs: Any) -> argparse.ArgumentParser:
        parser = self.actions.add_parser(name, **kwargs)
        _global_options(parser, defaults=False, own=own)
        return parser


# -- output ----------------------------------------------------------------------------------------

# Characters a terminal acts on or draws misleadingly: C0 and C1 controls (an ESC sequence can move the
# cursor, retitle the window, rewrite what was printed) and bidirectional overrides. Stored text is
# anyone's (a run's error, comment or name), so the CLI shows these as escapes.
_UNSAFE = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)]}
_UNSAFE.update({c: f"\\u{c:04x}" for c in [*range(0x202a, 0x202f), *range(0x2066, 0x206a), 0x200e, 0x200f, 0x061c]})


def _visible(text: str) -> str:
    """``text`` with every control and bidi-override character shown as an escape."""
    return text.translate(_UNSAFE)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, _dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, _dt.timedelta):
        return str(value - _dt.timedelta(microseconds=value.microseconds))
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return _visible(str(value).replace("\n", " "))


def emit(opts: argparse.Namespace, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """An aligned table, or a JSON list of objects with --json."""
    if opts.json:
        print(json.dumps([{c: json_safe(v) for c, v in zip(columns, row)} for row in rows], indent=2))
        return
    cells = [list(columns)] + [[_text(v) for v in row] for row in rows]
    widths = [min(max(len(r[i]) for r in cells), 60) for i in range(len(columns))]
    for n, row in enumerate(cells):
        print("  ".join((v if len(v) <= 60 else v[:57] + "...").ljust(w) for v, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def emit_record(opts: argparse.Namespace, record: Dict[str, Any]) -> None:
    if opts.json:
        print(json.dumps({k: json_safe(v) for k, v in record.items()}, indent=2))
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        if isinstance(value, str) and "\n" in value.strip():  # a traceback, a long comment: its own lines
            print(f"{key + ':':<{width + 1}}")
            for line in value.strip("\n").splitlines():
                print(f"{'':<{width + 2}}{_visible(line)}")
        else:
            print(f"{key + ':':<{width + 1}} {_text(value)}")


# -- experiments by name or number -----------------------------------------------------------------

def _find_experiment(client: Client, ref: str) -> Optional[Sequence[Any]]:
    """(id, name) of the experiment named or numbered ref (a name wins over a number), or None."""
    return client.one(EXPERIMENT_BY_REF, (ref, ref, ref))


def _experiment_id(client: Client, ref: str) -> int:
    row = _find_experiment(client, ref)
    if row is None:
        from .._suggest import suggest

        names = [r[0] for r in client.execute(EXPERIMENT_NAMES_UNORDERED)]
        raise CliError(f"no experiment named or numbered {ref!r}; "
                       + suggest(ref, names, "list them with: pgtrack experiments"), EXIT_NOT_FOUND)
    return row[0]
