"""Looking at results: report (a self-contained HTML file) and ui (the live dashboard, with its access token)."""
from __future__ import annotations

import argparse
import errno
import json
import os
from typing import Any, Optional

from .._statements import EXPERIMENT_NAME
from ..client import Client
from ._common import EXIT_DENIED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CliError, _Commands, _experiment_id


def cmd_report(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    from ..report import write_report

    exp_id = _experiment_id(client, opts.experiment)
    output = opts.output or _default_report_name(client.value(EXPERIMENT_NAME, (exp_id,)))
    info = write_report(client, exp_id, output, opts.metric, opts.direction, opts.buckets)
    if opts.json:
        print(json.dumps({"path": str(info.path.resolve()), "runs": info.runs, "charts": info.charts,
                          "bytes": info.bytes, "seconds": round(info.seconds, 3)}))
    else:
        print(f"wrote {info.path.resolve()} ({info.runs} runs, {info.charts} charts, {info.bytes / 1024:.0f} KiB, {info.seconds:.1f} s)")
    return EXIT_OK


def _default_report_name(name: str) -> str:
    """<experiment>.html in the current directory, the name made safe as a file name."""
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"
    return f"{safe[:100]}.html"


def cmd_ui(client: Client, opts: argparse.Namespace) -> int:
    from ..ui import serve

    experiment = _experiment_id(client, opts.experiment) if opts.experiment else None
    if opts.token_file:  # a file or the environment: a command line is visible to every user in ps
        token: Optional[str] = _read_token_file(opts.token_file)
    else:
        token = os.environ.get("PGTRACK_UI_TOKEN") or None  # None: a random one
    try:
        serve(client, experiment, opts.bind, opts.ui_port, open_browser=not opts.no_browser, token=token)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise CliError(f"port {opts.ui_port} on {opts.bind} is in use (another pgtrack ui, or another program); "
                       "pass --port 0 for a free one, or another number", EXIT_USAGE) from None
    return EXIT_OK


def _read_token_file(name: str) -> str:
    """The dashboard's token from ``name``, trusted like a config file (paths.read_private_text: your
    own regular file, not a symbolic link, that no one else may write) and also one no one else may
    read; CliError naming the file and why otherwise."""
    import stat

    from ..paths import UntrustedFile, read_private_text, why_untrusted

    advice = f"; make it yours alone: chmod 600 {name}"
    try:
        info = os.lstat(name)
        reason = why_untrusted(info)
        if reason is None and info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
            reason = f"others may read it (mode {stat.filemode(info.st_mode)})"
        if reason:
            raise UntrustedFile(name, reason)
        token = read_private_text(name).strip()  # checked again on the open file: what was read is what passed
    except UntrustedFile as exc:
        raise CliError(f"refusing the token file {name}: {exc.reason}{advice if 'mode' in exc.reason else ''}",
                       EXIT_DENIED) from None
    except FileNotFoundError:
        raise CliError(f"the token file {name} does not exist", EXIT_NOT_FOUND) from None
    except ValueError as exc:  # not UTF-8
        raise CliError(f"the token file: {exc}", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read the token file {name}: {exc.strerror or exc}", EXIT_USAGE) from None
    if not token:
        raise CliError(f"the token file {name} is empty", EXIT_USAGE)
    return token


class _RefusedToken(argparse.Action):
    """``ui --token VALUE``, refused: every local account reads a command line in ps."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        parser.error("--token on the command line is visible to every user (ps): put the token in a file "
                     "and pass --token-file PATH, or set PGTRACK_UI_TOKEN")


def register(commands: _Commands) -> None:
    p = commands.add("report", help="write a self-contained HTML report of an experiment")
    p.add_argument("experiment", metavar="EXPERIMENT", help="experiment name or id")
    p.add_argument("-o", "--output", metavar="FILE.html", help="default: EXPERIMENT.html in the current directory")
    p.add_argument("--metric", help="primary metric (default: val_loss, else a *loss*, else the first)")
    p.add_argument("--direction", choices=("min", "max"), help="is the primary metric minimised or maximised")
    p.add_argument("--buckets", type=int, default=100, help="points per curve (default 100)")
    p.set_defaults(handler=cmd_report)
    p = commands.add("ui", own=("--host", "--port"), help="a live dashboard in the browser (read-only; binds 127.0.0.1)",
                     epilog="every data request needs the access token: open the URL printed on stdout (it "
                            "carries #token=...; the page keeps it for its tab and sends it as an Authorization "
                            "header, never a cookie). Scripts: curl -H 'Authorization: Bearer TOKEN' URL/api/... "
                            "The token is random unless --token-file (your own file, mode 600) or "
                            "PGTRACK_UI_TOKEN gives it.")
    p.add_argument("experiment", nargs="?", metavar="EXPERIMENT", help="open this experiment's page")
    p.add_argument("--host", dest="bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", dest="ui_port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL (stdout) instead of opening a browser")
    p.add_argument("--token-file", metavar="PATH",
                   help="read the access token from this file, which must be yours and readable by no one else "
                        "(else PGTRACK_UI_TOKEN, else a random one)")
    p.add_argument("--token", action=_RefusedToken, help=argparse.SUPPRESS)  # refused, with the way that works
    p.set_defaults(handler=cmd_ui)
