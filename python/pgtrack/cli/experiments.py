"""Experiments, runs and metric columns: experiments (rename, lost-after, delete), runs, inspect, metrics, schema."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._statements import (
    DELETE_EXPERIMENT,
    EXPERIMENT_LISTING,
    EXPERIMENT_LOST_AFTER,
    EXPERIMENT_SET_NAME,
    EXPERIMENT_SIZE,
    FINAL_METRICS,
    METRIC_LISTING,
    RUN_LISTING,
    RUN_LISTING_LOST_AFTER,
    RUN_LOST,
    RUN_RELATIONSHIPS_FROM,
    RUN_STATUSES,
    RUN_WITH_EXPERIMENT,
    SET_LOST_AFTER,
)
from ..client import Client
from ..status import status_name
from ._common import EXIT_NOT_FOUND, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError, _Commands, _experiment_id, _text, emit, emit_record


def cmd_experiments(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    columns, rows = client.execute_with_columns(EXPERIMENT_LISTING)
    emit(opts, columns, rows)
    return EXIT_OK


def cmd_experiments_rename(client: Client, opts: argparse.Namespace) -> int:
    exp_id = _experiment_id(client, opts.old)
    client.execute(EXPERIMENT_SET_NAME, (exp_id, opts.new))
    print(f"renamed experiment {exp_id}: {opts.old} -> {opts.new}")
    return EXIT_OK


def cmd_experiments_lost_after(client: Client, opts: argparse.Namespace) -> int:
    exp_id = _experiment_id(client, opts.name)
    client.execute(SET_LOST_AFTER, (exp_id, opts.lost_after))
    shown = client.value(EXPERIMENT_LOST_AFTER, (exp_id,))
    print(f"experiment {exp_id}: a live run shows as LOST after {shown} of silence "
          "(or three missed heartbeats of a run that heartbeats, if sooner)")
    return EXIT_OK


def cmd_experiments_delete(client: Client, opts: argparse.Namespace) -> int:
    exp_id = _experiment_id(client, opts.name)
    found = client.one(EXPERIMENT_SIZE, (exp_id,))
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
    deleted = client.one(DELETE_EXPERIMENT, (exp_id,))
    assert deleted is not None  # delete_experiment returns one row, or raises PT002 (NotFoundError)
    runs, rows = deleted
    if opts.json:
        print(json.dumps({"experiment": name, "id": exp_id, "runs": runs, "metric_rows": rows}))
    else:
        print(f"deleted experiment {name!r} (id {exp_id}): {runs} runs, {rows} metric rows")
    return EXIT_OK


def cmd_runs(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    experiment = _experiment_id(client, opts.experiment) if opts.experiment else None
    status = status_name(opts.status) if opts.status else None  # wallow's spellings too: done, failed, running
    if status and status != "LOST" and status not in client.value(RUN_STATUSES):
        raise CliError(f"unknown status {opts.status!r}; statuses are the Slurm job states, e.g. RUNNING, COMPLETED, "
                       "FAILED, and LOST (a live run whose worker went silent)", EXIT_USAGE)
    # A lost run (live status, silent for longer than its lost time: pgtrack.lost_time, or --lost-after
    # for this listing) shows as LOST, and its duration stops at its last sign of life instead of growing.
    listing = RUN_LISTING_LOST_AFTER if opts.lost_after else RUN_LISTING
    columns, rows = client.execute_with_columns(listing, {"e": experiment, "s": status, "n": opts.limit, "l": opts.lost_after})
    emit(opts, columns, rows)
    return EXIT_OK


def cmd_inspect(client: Client, opts: argparse.Namespace) -> int:
    client = client.for_reading()  # analysis: the read replica when --read-dsn names one
    if not opts.run.isdigit():
        raise CliError(f"RUN must be a run id (a number), got {opts.run!r}", EXIT_USAGE)
    columns, rows = client.execute_with_columns(RUN_WITH_EXPERIMENT, (int(opts.run),))
    if not rows:
        raise CliError(f"no run with id={opts.run}; list runs with: pgtrack runs", EXIT_NOT_FOUND)
    record = dict(zip(columns, rows[0]))
    found = client.one(RUN_LOST, (record["experiment_id"], int(opts.run)))
    if found is None:  # deleted since the statement above read it
        raise CliError(f"no run with id={opts.run}; list runs with: pgtrack runs", EXIT_NOT_FOUND)
    lost, silent = found
    if lost:
        record["status"] = f"LOST (stored {record['status']}; no sign of life for {_text(silent)})"
    record["final metrics"] = {m: v for m, v, _, _ in client.execute(FINAL_METRICS, (int(opts.run),))}
    record["relationships"] = [f"{kind} {to_id}" for kind, to_id in client.execute(RUN_RELATIONSHIPS_FROM, (int(opts.run),))]
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
    columns, rows = client.execute_with_columns(METRIC_LISTING)
    emit(opts, columns, rows)
    return EXIT_OK


def cmd_schema(client: Client, opts: argparse.Namespace) -> int:
    from ..schema import load_schema

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


def register(commands: _Commands) -> None:
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
