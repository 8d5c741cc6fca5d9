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
import datetime as _dt
import errno
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import psycopg

from . import __version__
from .client import Client
from .embedded import EmbeddedUnavailable
from .errors import NotFoundError, PgtrackError, ServerUnreachable
from .jsonvalues import json_safe
from .plain import installed
from .statements import RUN_STATUS_JOIN
from .status import status_name

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_DENIED, EXIT_REFUSED, EXIT_NOT_INSTALLED, EXIT_BUG = 0, 1, 2, 3, 4, 5, 6, 10


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 (argparse's default is 2, which here means "not found")."""

    def error(self, message: str) -> None:  # type: ignore[override]
        import re

        from .suggest import suggest

        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong.group(2)) or [c.strip() for c in wrong.group(2).split(",")]
            hint = suggest(wrong.group(1), choices)
            message = f"unknown command {wrong.group(1)!r}" + (f"; {hint}" if hint else f" (commands: {', '.join(choices)})")
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pgtrack: error: {message}\n")


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


# -- commands --------------------------------------------------------------------------------------

def _find_experiment(client: Client, ref: str) -> Optional[Sequence[Any]]:
    """(id, name) of the experiment named or numbered ref (a name wins over a number), or None."""
    return client.one("SELECT id, name FROM pgtrack.experiments WHERE id::text = %s OR name = %s ORDER BY name = %s DESC LIMIT 1",
                      (ref, ref, ref))


def _experiment_id(client: Client, ref: str) -> int:
    row = _find_experiment(client, ref)
    if row is None:
        from .suggest import suggest

        names = [r[0] for r in client.execute("SELECT name FROM pgtrack.experiments")]
        raise CliError(f"no experiment named or numbered {ref!r}; "
                       + suggest(ref, names, "list them with: pgtrack experiments"), EXIT_NOT_FOUND)
    return row[0]


def cmd_setup(client: Client, opts: argparse.Namespace) -> int:
    from . import plain

    if opts.install_extension:
        from .install import install_extension

        written = install_extension(pg_config=opts.pg_config)
        print(f"installed the extension files into {written[0].parent} ({len(written)} files)")
    extension, plain_version = plain.installed(client)
    if opts.plain or (extension is None and plain_version is not None):
        for line in plain.install_or_upgrade(client):
            print(line)
    elif extension is None:
        client.execute("CREATE EXTENSION pgtrack")
        print(f"created extension pgtrack {plain.installed(client)[0]}")
    layout = client.value("SELECT pgtrack.setup()")
    print(f"data tables ready (layout {layout})")
    from .migrations import apply, script_paths

    for path in script_paths(opts.scripts):  # a missing one: FileNotFoundError, exit 2, nothing applied
        ran = apply(client, path)
        print(f"({'NEW' if ran else 'OK'}) {path.name}")
    return EXIT_OK


def cmd_plain_sql(client: Optional[Client], opts: argparse.Namespace) -> int:
    from . import plain

    if opts.upgrade_from:
        sys.stdout.write("\n".join(plain.upgrade_sql(a, b) for a, b in plain.upgrade_path(opts.upgrade_from)))
    else:
        sys.stdout.write(plain.install_sql())
    return EXIT_OK


def cmd_status(client: Client, opts: argparse.Namespace) -> int:
    record: Dict[str, Any] = {
        "server": client.value("SHOW server_version"),
        "database": client.value("SELECT current_database()"),
        "user": client.value("SELECT current_user"),
    }
    record["extension"], plain_version = installed(client)
    if plain_version is not None:
        record["plain install"] = plain_version
    elif record["extension"] is None:
        raise CliError("pgtrack is not installed in this database; run: pgtrack setup", EXIT_NOT_INSTALLED)
    record["layout"] = client.value("SELECT value FROM pgtrack.meta WHERE key = 'layout_version'")
    record["experiments"] = client.value("SELECT count(*) FROM pgtrack.experiments")
    record["metric columns"] = client.value("SELECT count(*) FROM pgtrack.metric_columns()")
    for status, count in client.execute("SELECT shown_status, count(*) FROM pgtrack.runs_status() GROUP BY 1 ORDER BY 1"):
        record[f"runs {status}"] = count  # LOST: a live status whose worker went silent (pgtrack.is_lost)
    emit_record(opts, record)
    return EXIT_OK


def cmd_experiments(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    columns, rows = client.execute_with_columns("""
        SELECT e.id, e.name, count(r.id) AS runs,
               count(r.id) FILTER (WHERE r.status = 'RUNNING' AND NOT s.lost) AS running,
               count(r.id) FILTER (WHERE s.lost) AS lost,
               count(r.id) FILTER (WHERE r.status = 'COMPLETED') AS completed,
               count(r.id) FILTER (WHERE r.status IN ('FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'TIMEOUT', 'BOOT_FAIL', """
        """'DEADLINE')) AS failed,
               count(r.id) FILTER (WHERE r.status IN ('CANCELLED', 'PREEMPTED', 'REVOKED')) AS cancelled,
               e.time_created AS created, e.comment
          FROM pgtrack.experiments e LEFT JOIN pgtrack.runs r ON r.experiment_id = e.id
          LEFT """ + RUN_STATUS_JOIN + """
         GROUP BY e.id ORDER BY e.id""")
    emit(opts, columns, rows)
    return EXIT_OK


# The listing's lost flag and shown status: the run's own (RUN_STATUS_JOIN), or judged with
# --lost-after for this listing only.
_OVERRIDDEN_LOST = "pgtrack.is_lost(r.status, s.last_seen, %(l)s::interval)"
_OVERRIDDEN_SHOWN = f"CASE WHEN {_OVERRIDDEN_LOST} THEN 'LOST' ELSE r.status::text END"


def cmd_runs(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    experiment = _experiment_id(client, opts.experiment) if opts.experiment else None
    status = status_name(opts.status) if opts.status else None  # wallow's spellings too: done, failed, running
    if status and status != "LOST" and status not in client.value("SELECT enum_range(NULL::pgtrack.runstatus)::text[]"):
        raise CliError(f"unknown status {opts.status!r}; statuses are the Slurm job states, e.g. RUNNING, COMPLETED, "
                       "FAILED, and LOST (a live run whose worker went silent)", EXIT_USAGE)
    # A lost run (live status, silent for longer than its lost time: pgtrack.lost_time, or --lost-after
    # for this listing) shows as LOST, and its duration stops at its last sign of life instead of growing.
    lost, shown = (_OVERRIDDEN_LOST, _OVERRIDDEN_SHOWN) if opts.lost_after else ("s.lost", "s.shown_status")
    columns, rows = client.execute_with_columns(f"""
        SELECT r.id, e.name AS experiment, {shown} AS status, coalesce(r.identity, r.args) AS config,
               r.attempt, r.worker, r.time_started AS started,
               coalesce(r.time_finished, CASE WHEN {lost} THEN s.last_seen ELSE clock_timestamp() END) - r.time_started AS duration,
               s.silent_for AS updated_ago,
               split_part(r.error, E'\\n', 1) AS error
          FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id
         {RUN_STATUS_JOIN}
         WHERE (%(e)s::bigint IS NULL OR r.experiment_id = %(e)s) AND (%(s)s::text IS NULL OR {shown} = %(s)s)
         ORDER BY r.id DESC LIMIT %(n)s""", {"e": experiment, "s": status, "n": opts.limit, "l": opts.lost_after})
    emit(opts, columns, rows)
    return EXIT_OK


def cmd_inspect(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    if not opts.run.isdigit():
        raise CliError(f"RUN must be a run id (a number), got {opts.run!r}", EXIT_USAGE)
    columns, rows = client.execute_with_columns(
        "SELECT r.*, e.name AS experiment FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id "
        "WHERE r.id = %s", (int(opts.run),))
    if not rows:
        raise CliError(f"no run with id={opts.run}; list runs with: pgtrack runs", EXIT_NOT_FOUND)
    record = dict(zip(columns, rows[0]))
    found = client.one("SELECT lost, silent_for FROM pgtrack.runs_status(%s) WHERE run_id = %s",
                       (record["experiment_id"], int(opts.run)))
    if found is None:  # deleted since the statement above read it
        raise CliError(f"no run with id={opts.run}; list runs with: pgtrack runs", EXIT_NOT_FOUND)
    lost, silent = found
    if lost:
        record["status"] = f"LOST (stored {record['status']}; no sign of life for {_text(silent)})"
    record["final metrics"] = {m: v for m, v, _, _ in client.execute("SELECT * FROM pgtrack.final_metrics(%s)", (int(opts.run),))}
    record["relationships"] = [f"{kind} {to_id}" for kind, to_id in client.execute(
        "SELECT kind, to_id FROM pgtrack.run_relationships WHERE from_id = %s ORDER BY 1, 2", (int(opts.run),))]
    emit_record(opts, record)
    return EXIT_OK


def cmd_metrics(client: Client, opts: argparse.Namespace) -> int:
    if opts.metrics_command == "add":
        added = client.add_metric(opts.name, opts.type, opts.comment)
        if opts.json:
            print(json.dumps({"metric": opts.name, "added": added}))
        else:
            print(f"{'added' if added else 'exists already:'} metric {opts.name} ({opts.type})")
        return EXIT_OK
    columns, rows = client.execute_with_columns("SELECT name, type::text AS type, comment FROM pgtrack.metric_columns()")
    emit(opts, columns, rows)
    return EXIT_OK


def cmd_schema(client: Client, opts: argparse.Namespace) -> int:
    from .schema import load_schema

    if not Path(opts.file).is_file():
        raise CliError(f"schema file {opts.file} does not exist", EXIT_NOT_FOUND)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the line below says it, once, with the exit code
        experiment = load_schema(opts.file, client)
    emit_record(opts, {"experiment": experiment.name, "id": experiment.id,
                       "identifying fields": [f.name for f in experiment.identifying_fields()]})
    extra = getattr(experiment, "schema_extra_identifying", [])
    if extra:
        raise CliError(f"applied {opts.file}, but the identifying field(s) {', '.join(extra)} of experiment {experiment.name!r} "
                       f"are not in it and were NOT dropped (dropping one re-keys every run): to drop, run SELECT "
                       f"pgtrack.drop_identifying({experiment.id}, '{extra[0]}') (refused if runs would collide)", EXIT_REFUSED)
    return EXIT_OK


def cmd_report(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    from .report import write_report

    exp_id = _experiment_id(client, opts.experiment)
    output = opts.output or _default_report_name(client.value("SELECT name FROM pgtrack.experiments WHERE id = %s", (exp_id,)))
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


def cmd_experiments_lost_after(client: Client, opts: argparse.Namespace) -> int:
    exp_id = _experiment_id(client, opts.name)
    client.execute("SELECT pgtrack.experiment_set_lost_after(%s, %s::interval)", (exp_id, opts.lost_after))
    shown = client.value("SELECT lost_after::text FROM pgtrack.experiments WHERE id = %s", (exp_id,))
    print(f"experiment {exp_id}: a live run shows as LOST after {shown} of silence "
          "(or three missed heartbeats of a run that heartbeats, if sooner)")
    return EXIT_OK


def cmd_experiments_rename(client: Client, opts: argparse.Namespace) -> int:
    exp_id = _experiment_id(client, opts.old)
    client.execute("SELECT pgtrack.experiment_set_name(%s, %s)", (exp_id, opts.new))
    print(f"renamed experiment {exp_id}: {opts.old} -> {opts.new}")
    return EXIT_OK


def cmd_experiments_delete(client: Client, opts: argparse.Namespace) -> int:
    exp_id = _experiment_id(client, opts.name)
    found = client.one(
        "SELECT e.name, count(r.id), coalesce(sum((SELECT count(*) FROM pgtrack.metrics m "
        "WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id)), 0) "
        "FROM pgtrack.experiments e LEFT JOIN pgtrack.runs r ON r.experiment_id = e.id WHERE e.id = %s GROUP BY e.name",
        (exp_id,))
    if found is None:  # deleted since _experiment_id found it
        raise CliError(f"no experiment named or numbered {opts.name!r}; list them with: pgtrack experiments", EXIT_NOT_FOUND)
    name, runs, rows = found
    what = f"experiment {name!r} (id {exp_id}): {runs} runs and {rows} metric rows"
    if not opts.yes:
        if not sys.stdin.isatty():
            raise CliError(f"this deletes {what}; pass --yes to confirm", EXIT_USAGE)
        answer = input(f"delete {what}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted")
            return EXIT_OK
    deleted = client.one("SELECT runs, metric_rows FROM pgtrack.delete_experiment(%s)", (exp_id,))
    assert deleted is not None  # delete_experiment returns one row, or raises PT002 (NotFoundError)
    runs, rows = deleted
    if opts.json:
        print(json.dumps({"experiment": name, "id": exp_id, "runs": runs, "metric_rows": rows}))
    else:
        print(f"deleted experiment {name!r} (id {exp_id}): {runs} runs, {rows} metric rows")
    return EXIT_OK


def cmd_recover(client: Client, opts: argparse.Namespace) -> int:
    import warnings

    from . import spill

    with warnings.catch_warnings(record=True) as refusals:  # each file left in place says why, on one line
        warnings.simplefilter("always")
        done = spill.recover(client, opts.run)
    for refusal in refusals:
        print(f"{refusal.message}", file=sys.stderr)
    if opts.json:
        print(json.dumps(dict(done, directory=str(spill.directory()))))
    else:
        print(f"loaded {done['files']} spill files from {spill.directory()}: {done['rows']} metric rows, "
              f"{done['stopped']} final statuses; {done['skipped']} belong to another database, "
              f"{done['rejected']} were refused (the run was taken over; kept as .rejected), "
              f"{done['refused']} were not loaded (see the warnings above; left in place)")
    return EXIT_OK


def cmd_ui(client: Client, opts: argparse.Namespace) -> int:
    from .ui import serve

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

    from .paths import UntrustedFile, read_private_text, why_untrusted

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


def _json_argument(text: str, what: str) -> Any:
    """JSON given inline or as a file name."""
    source = Path(text).read_text() if Path(text).is_file() else text
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is neither a JSON file nor JSON: {exc}", EXIT_USAGE) from None


def cmd_sweep(client: Client, opts: argparse.Namespace) -> int:
    import datetime as dt

    from .sweep import sweep

    command = opts.command_args
    if not command:
        raise CliError("give the command to run per configuration after --, e.g. pgtrack sweep mnist --grid g.json -- python train.py",
                       EXIT_USAGE)
    if (opts.grid is None) == (opts.configs is None):
        raise CliError("give either --grid (a JSON object of lists) or --configs (a JSON list of objects)", EXIT_USAGE)
    configs = _json_argument(opts.grid or opts.configs, "--grid" if opts.grid else "--configs")
    env = dict(os.environ, PGTRACK_DSN_DSN=client.conninfo)

    def run_command(config: Dict[str, Any], run: Any) -> None:
        child_env = dict(env, PGTRACK_EXPERIMENT_ID=str(run.experiment_id), PGTRACK_RUN_ID=str(run.id),
                         PGTRACK_ATTEMPT=str(run.attempt), PGTRACK_CONFIG=json.dumps(config))
        done = subprocess.run([*command, json.dumps(config)], env=child_env, stdout=sys.stderr, stderr=subprocess.PIPE,
                              text=True)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")

    found = _find_experiment(client, opts.experiment)  # an existing one by name or number, else a new name
    summary = sweep(found[1] if found else opts.experiment, configs, run_command, workers=opts.workers,
                    stale_after=dt.timedelta(seconds=opts.stale_after), client=client)
    columns = [c for c in (summary[0].keys() if summary else []) if c not in ("args", "started", "updated")]
    emit(opts, columns, [[row[c] for c in columns] for row in summary])
    failed = [row for row in summary if row["status"] != "COMPLETED"]
    return EXIT_REFUSED if failed else EXIT_OK


def cmd_dsn(client: Client, opts: argparse.Namespace) -> int:
    print(client.conninfo)
    return EXIT_OK


def cmd_psql(client: Client, opts: argparse.Namespace) -> int:
    from .embedded import psql_program

    sys.stdout.flush()
    return subprocess.run([psql_program(client.embedded), "-d", client.conninfo, *opts.psql_args]).returncode


def cmd_embedded_status(client: Optional[Client], opts: argparse.Namespace) -> int:
    from . import embedded

    emit_record(opts, embedded.status())
    return EXIT_OK


def cmd_embedded_stop(client: Optional[Client], opts: argparse.Namespace) -> int:
    from . import embedded

    server = embedded.EmbeddedServer(embedded.directory())
    if not opts.force:
        clients = server.clients()
        if clients:
            raise CliError(f"{len(clients)} client(s) are connected to the embedded server ({', '.join(clients[:5])}); "
                           "stopping it now would cut them off: pass --force to stop anyway", EXIT_REFUSED)
    stopped = server.stop()
    print("stopped the embedded server" if stopped else "the embedded server was not running")
    return EXIT_OK


# -- wiring ----------------------------------------------------------------------------------------

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
    conn.add_argument("-s", "--schema", help="accepted for SQLTrack's command line; pgtrack's schema is always pgtrack", **keep)
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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pgtrack", description="Experiment tracking and a deduplicating run registry inside PostgreSQL.",
                    epilog="global options go before or after the command. exit codes: 0 ok, 1 usage, 2 not found, "
                           "3 database unreachable, 4 permission denied, 5 refused by pgtrack, 6 pgtrack not installed, "
                           "10 unexpected error")
    parser.add_argument("--version", action="version", version=f"pgtrack {__version__}")
    _global_options(parser, defaults=True)
    commands = _Commands(parser, "command", "COMMAND")

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
    p = commands.add("experiments", help="list experiments with run counts; rename or delete one")
    p.set_defaults(handler=cmd_experiments)
    experiment_commands = _Commands(p, "experiments_command", "[rename|lost-after|delete]", required=False)
    q = experiment_commands.add("rename", help="rename an experiment")
    q.add_argument("old", metavar="OLD", help="experiment name or id")
    q.add_argument("new", metavar="NEW", help="its new name")
    q.set_defaults(handler=cmd_experiments_rename)
    q = experiment_commands.add("lost-after", help="how long a live run may be silent before it shows as LOST")
    q.add_argument("name", metavar="NAME", help="experiment name or id")
    q.add_argument("lost_after", metavar="DURATION", help="e.g. 90s, 5min, '10 minutes' (PostgreSQL interval text)")
    q.set_defaults(handler=cmd_experiments_lost_after)
    q = experiment_commands.add("delete", help="delete an experiment with its runs and metric rows (asks first)")
    q.add_argument("name", metavar="NAME", help="experiment name or id")
    q.add_argument("--yes", action="store_true", help="do not ask")
    q.set_defaults(handler=cmd_experiments_delete)
    p = commands.add("runs", help="list runs, newest first")
    p.add_argument("experiment", nargs="?", metavar="EXPERIMENT", help="experiment name or id")
    p.add_argument("--status", help="only runs with this status (e.g. RUNNING, FAILED, LOST)")
    p.add_argument("--limit", type=int, default=100, help="at most this many runs (default 100)")
    p.add_argument("--lost-after", metavar="DURATION",
                   help="show a live run as LOST after this much silence, for this listing (e.g. 90s, 5min)")
    p.set_defaults(handler=cmd_runs)
    p = commands.add("inspect", help="every field of one run, its final metrics and relationships")
    p.add_argument("run", metavar="RUN", help="run id")
    p.set_defaults(handler=cmd_inspect)
    p = commands.add("metrics", help="metric columns: add or list")
    metric_commands = _Commands(p, "metrics_command", "add|list")
    q = metric_commands.add("add", help="add a metric column")
    q.add_argument("name", metavar="NAME", help="any name up to 63 bytes, e.g. val_loss or train/loss")
    q.add_argument("type", metavar="TYPE", nargs="?", default="double precision", help="default: double precision")
    q.add_argument("--comment")
    q = metric_commands.add("list", help="list the metric columns")
    p.set_defaults(handler=cmd_metrics)
    p = commands.add("schema", help="wallow TOML schemas")
    schema_commands = _Commands(p, "schema_command", "apply")
    q = schema_commands.add("apply", help="apply a wallow.toml schema to its experiment")
    q.add_argument("file", metavar="FILE.toml")
    p.set_defaults(handler=cmd_schema)
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
    p = commands.add("sweep", help="run a command once per configuration, in worker processes, resumable")
    p.add_argument("experiment", metavar="EXPERIMENT", help="experiment name (made if missing) or id")
    p.add_argument("--grid", help='a JSON object of lists (every combination), inline or a file: {"lr": [0.1, 0.01]}')
    p.add_argument("--configs", help="a JSON list of configurations, inline or a file")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--stale-after", type=float, default=600, help="seconds of silence before a run is claimed again (default 600)")
    p.set_defaults(handler=cmd_sweep, command_args=[])
    p.epilog = ("after --: the command, run once per configuration with the configuration's JSON as its last argument "
                "(and in PGTRACK_CONFIG); it logs to its run through pgtrack.run_from_env(client) "
                "(PGTRACK_RUN_ID and PGTRACK_EXPERIMENT_ID are set)")
    p = commands.add("recover", help="load metric rows and final statuses that training saved locally while the server was away")
    p.add_argument("--run", type=int, help="only this run's files")
    p.set_defaults(handler=cmd_recover)
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
    return parser


def client_from(opts: argparse.Namespace) -> Client:
    if getattr(opts, "schema", None) not in (None, "", "pgtrack"):
        print(f"pgtrack: note: -s/--schema {opts.schema} ignored: pgtrack's tables always live in schema pgtrack",
              file=sys.stderr)
    host, port = opts.host, opts.port
    if host and ":" in host and port is None and host.rsplit(":", 1)[1].isdigit():
        host, port = host.rsplit(":", 1)  # SQLTrack's -a "host (and port)"; a socket directory works too
    return Client(config_path=opts.config_path, read_dsn=opts.read_dsn, dsn=opts.dsn, user=opts.user, host=host, port=port,
                  dbname=opts.database)


def _terminal_text(exc: PgtrackError) -> str:
    """The message with the server's SQL hint (a terminal user has psql at hand), not the Python one."""
    hint = getattr(exc, "sql_hint", None)
    return f"{exc.message} (hint: {hint})" if hint else exc.message


def _explain(exc: BaseException) -> CliError:
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, NotFoundError):
        return CliError(_terminal_text(exc), EXIT_NOT_FOUND)
    if isinstance(exc, EmbeddedUnavailable):
        return CliError(f"{exc}", EXIT_UNREACHABLE)
    if isinstance(exc, ServerUnreachable):  # before PgtrackError: a connection, not a refusal
        exc = exc.original if exc.original is not None else exc  # without from_error: an OperationalError itself
    elif isinstance(exc, PgtrackError):
        return CliError(_terminal_text(exc), EXIT_REFUSED)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return CliError(f"permission denied: {exc.diag.message_primary}; ask the database owner for pgtrack_reader, "
                        "pgtrack_writer or pgtrack_admin", EXIT_DENIED)
    if isinstance(exc, (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedFunction)) \
            and "pgtrack" in (exc.diag.message_primary or ""):  # pgtrack's own objects are missing
        return CliError(f"pgtrack is missing or out of date in this database ({exc.diag.message_primary}); "
                        "run: pgtrack setup, or ALTER EXTENSION pgtrack UPDATE", EXIT_NOT_INSTALLED)
    if isinstance(exc, psycopg.ProgrammingError) and not getattr(exc, "sqlstate", None):  # libpq refused the settings
        return CliError(f"invalid connection settings: {str(exc).strip().splitlines()[0]}; check --dsn, -a/-p/-d/-u, "
                        "PGTRACK_DSN_* or pgtrack.conf", EXIT_USAGE)
    if isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CliError(f"cannot reach the database: {first}; check -a/-p/-d/-u, --dsn, PGTRACK_DSN_* or pgtrack.conf",
                        EXIT_UNREACHABLE)
    if isinstance(exc, FileNotFoundError):
        return CliError(str(exc), EXIT_NOT_FOUND)
    if isinstance(exc, PermissionError):
        return CliError(str(exc), EXIT_DENIED)
    if isinstance(exc, OSError):  # a disk full, a read-only file system, a directory given as a file
        where = f" {exc.filename}" if exc.filename else ""
        return CliError(f"cannot write or read{where}: {exc.strerror or exc}", EXIT_REFUSED)
    if isinstance(exc, psycopg.Error) and getattr(exc, "sqlstate", None):  # the server refused something else
        return CliError(f"{exc.diag.message_primary or exc} (SQLSTATE {exc.sqlstate})", EXIT_REFUSED)
    if isinstance(exc, ImportError):
        return CliError(str(exc), EXIT_USAGE)
    return CliError(f"unexpected {type(exc).__name__}: {exc}; rerun with PGTRACK_DEBUG=1 for the traceback", EXIT_BUG)


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


if __name__ == "__main__":
    sys.exit(main())
