"""Running training: sweep (a command per configuration, in worker processes) and recover (what runs saved locally)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

from ..client import Client
from ._common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, CliError, _Commands, _find_experiment, emit


def _json_argument(text: str, what: str) -> Any:
    """JSON given inline or as a file name."""
    source = Path(text).read_text() if Path(text).is_file() else text
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is neither a JSON file nor JSON: {exc}", EXIT_USAGE) from None


def cmd_sweep(client: Client, opts: argparse.Namespace) -> int:
    import datetime as dt

    from ..sweep import sweep

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


def cmd_recover(client: Client, opts: argparse.Namespace) -> int:
    import warnings

    from .. import spill

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


def register(commands: _Commands) -> None:
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
