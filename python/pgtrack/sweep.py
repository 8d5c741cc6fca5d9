"""``pgtrack.sweep``: run a function over a grid of configurations in N worker processes, on the
registry's claims, resumable.

    def train(config, run):
        for epoch in range(10):
            run.add_metrics(step=epoch, val_loss=...)

    summary = pgtrack.sweep("mnist-sweep", {"lr": [0.1, 0.01], "seed": [0, 1, 2]}, train, workers=4)
    pandas.DataFrame(summary)

1. The configurations (a list of dicts, or a grid: a dict of lists, expanded to every combination)
   are the identifying values; fields not declared yet are declared with the type of their values.
   They are enqueued once (enqueue skips existing keys), so a rerun adds nothing.
2. Runs of these configurations that failed or were cancelled earlier are set back to PENDING, so
   a rerun retries them; COMPLETED ones are never run again.
3. ``workers`` processes (1: in this process) loop on ``claim_next`` (without retrying failures, so
   a failing configuration is tried once per call) and run ``fn(config, run)`` inside
   ``run.track()``: COMPLETED on return, FAILED with the traceback on an exception, CANCELLED on
   SIGTERM, heartbeats every stale_after / 4. A worker that finds nothing to claim while runs are
   still live waits: if their worker died (SIGKILL, a lost node) the run goes stale after
   ``stale_after`` and is claimed again, as attempt 2, within the same call. While the server is
   unreachable a worker waits for it (a warning, then quiet) for up to 10 minutes; a claim whose reply
   was lost is not lost (claim_next_once), and a connection reset costs nothing (docs/python.md, "What
   happens when...").
4. Returns one dict per configuration (status, its values, best and final metrics, duration,
   attempt, error): ``pandas.DataFrame(summary)``.
"""
from __future__ import annotations

import datetime as _dt
import itertools
import multiprocessing as mp
import os
import socket
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

from . import _notices
from ._jsonvalues import identifying_json
from ._runtable import run_table
from .client import Client
from .errors import SchemaValidationError, ServerUnreachable
from .experiment import Experiment

Config = Dict[str, Any]
OUTAGE_PATIENCE = 600.0  # seconds a worker waits for an unreachable server before it gives up
LIVE = ("RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING", "SUSPENDED")


def expand(configs: Union[Mapping[str, Sequence[Any]], Iterable[Mapping[str, Any]]]) -> List[Config]:
    """A grid (dict of lists) to every combination; a list of dicts as it is."""
    if isinstance(configs, Mapping):
        keys = list(configs)
        for key in keys:
            if isinstance(configs[key], (str, bytes)) or not isinstance(configs[key], Iterable):
                raise SchemaValidationError(f"grid value of {key!r} must be a list of values, got {configs[key]!r}",
                                            hint='pass {"lr": [0.1, 0.01]} or a list of configurations')
        return [dict(zip(keys, values)) for values in itertools.product(*(list(configs[k]) for k in keys))]
    out = [dict(c) for c in configs]
    if not all(isinstance(c, dict) for c in out):
        raise SchemaValidationError("configurations must be dicts of identifying values")
    return out


def field_type(values: List[Any]) -> str:
    """The identifying field type (bool, int, float, string) that holds every one of ``values``."""
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    if all(isinstance(v, str) for v in values):
        return "string"
    raise SchemaValidationError(f"cannot infer one type for values {values[:5]!r}",
                                hint="declare the field yourself with experiment.declare_identifying(name, type)")


def declare_missing(experiment: Any, configs: List[Config]) -> None:
    """Declare the identifying fields the configurations use and the experiment lacks, with the type
    of their values (int, float, string, bool); a field missing from some configurations needs to be
    declared with a default first."""
    declared = {f.name for f in experiment.identifying_fields()}
    for name in sorted({k for c in configs for k in c} - declared):
        present = [c[name] for c in configs if name in c]
        if len(present) != len(configs):
            raise SchemaValidationError(f"field {name!r} is missing from some configurations",
                                        hint="declare it with a default first: "
                                             f"experiment.declare_identifying({name!r}, type, default=...)")
        experiment.declare_identifying(name, field_type(present))


def prepare(experiment: Any, configs: List[Config]) -> None:
    """Declare missing fields, enqueue the configurations, set their failed runs back to PENDING."""
    declare_missing(experiment, configs)
    experiment.enqueue(configs)
    client = experiment.client
    for (run_id,) in client.execute(
            "SELECT id FROM pgtrack.runs WHERE experiment_id = %s AND identity IS NOT NULL "
            "AND status::text <> ALL (%s) AND status <> 'PENDING' AND status <> 'COMPLETED'", (experiment.id, list(LIVE))):
        client.execute("SELECT pgtrack.run_set_status(%s, 'PENDING')", (run_id,))


def _live_runs(experiment: Any) -> int:
    return experiment.client.value("SELECT pg_catalog.count(*) FROM pgtrack.runs WHERE experiment_id = %s AND identity IS NOT NULL "
                                   "AND status::text = ANY (%s)", (experiment.id, list(LIVE)))


def _next(experiment: Any, stale_after: _dt.timedelta, name: str) -> Tuple[Any, int]:
    """The next claim and, when there is none, how many runs others hold. While the server is away the
    worker waits for it (a warning, then quiet) for up to OUTAGE_PATIENCE seconds; a claim whose reply
    was lost is not lost (claim_next sends its request again: once.sql)."""
    waited_since = None
    while True:
        try:
            run = experiment.claim_next(stale_after, worker=name, retry_failed=False)
            return run, (0 if run is not None else _live_runs(experiment))
        except ServerUnreachable as exc:
            now = time.monotonic()
            if waited_since is None:
                waited_since = now
                _notices.warn(f"pgtrack sweep: worker {name}: {exc}; waiting up to {OUTAGE_PATIENCE:g} s for it", stacklevel=2)
            elif now - waited_since > OUTAGE_PATIENCE:
                raise
            time.sleep(2.0)


def work(experiment: Any, fn: Callable[[Config, Any], Any], stale_after: _dt.timedelta, name: str) -> int:
    """One worker's loop (see the module docstring); returns how many runs it finished."""
    done = 0
    pause = max(0.2, min(2.0, stale_after.total_seconds() / 10))
    fields = {f.name for f in experiment.identifying_fields()}  # fixed for the sweep (prepare declared them)
    while True:
        run, live = _next(experiment, stale_after, name)
        if run is None:
            if live == 0:
                return done
            time.sleep(pause)  # others hold runs; if one of them died, its run goes stale and comes here
            continue
        config = {k: v for k, v in run.fields.items() if k in fields}
        try:
            with run.track(heartbeat=max(0.5, stale_after.total_seconds() / 4)):
                fn(config, run)
        except Exception:
            pass  # the run is FAILED with its traceback; go on with the next configuration
        done += 1


def _child(client_params: Dict[str, Any], embedded: bool, experiment_id: int, fn: Callable, stale_after: _dt.timedelta,
           name: str) -> None:
    client = Client.from_params(client_params, embedded)
    work(Experiment._bind(client, experiment_id), fn, stale_after, name)
    client.close()


def sweep(experiment: Any, configs: Union[Mapping[str, Sequence[Any]], Iterable[Mapping[str, Any]]],
          fn: Callable[[Config, Any], Any], workers: int = 1, stale_after: _dt.timedelta = _dt.timedelta(minutes=10),
          client: Any = None) -> List[Dict[str, Any]]:
    """Run ``fn(config, run)`` for every configuration not completed yet, in ``workers`` processes;
    returns a summary row per configuration (see the module docstring). ``experiment``: an Experiment,
    or a name (then ``client``, default ``pgtrack.Client()``)."""
    if not isinstance(experiment, Experiment):
        experiment = Experiment(client or Client(), name=str(experiment))
    if not isinstance(stale_after, _dt.timedelta) or stale_after.total_seconds() <= 0:
        raise SchemaValidationError(f"stale_after must be a positive timedelta, got {stale_after!r}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    wanted = expand(configs)
    experiment.client.retrying(lambda: prepare(experiment, wanted))  # every step of it is safe to run again
    host = socket.gethostname()
    if workers == 1:
        work(experiment, fn, stale_after, f"{host}:{os.getpid()}")
    else:
        context = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
        procs = [context.Process(target=_child, args=(dict(experiment.client.params), experiment.client.embedded,
                                                        experiment.id, fn, stale_after, f"{host}:sweep-{i}"))
                 for i in range(workers)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    return experiment.client.retrying(lambda: _summary(experiment, wanted))  # reads: safe to run again


def _summary(experiment: Any, wanted: List[Config]) -> List[Dict[str, Any]]:
    table = run_table(experiment.client, experiment.id)
    keys = {experiment.client.value("SELECT pgtrack.normalize_identity(%s, %s::jsonb)::text", (experiment.id, _json(c)))
            for c in wanted}
    identities = dict(experiment.client.execute(
        "SELECT id, identity::text FROM pgtrack.runs WHERE experiment_id = %s AND identity IS NOT NULL", (experiment.id,)))
    return [row for row in table.rows if identities.get(row["id"]) in keys]


def _json(value: Any) -> str:
    return identifying_json(value)
