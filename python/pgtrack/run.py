"""Run: SQLTrack's run API over pgtrack's SQL functions (one call per method), plus leases.

A Run made by ``register``/``claim_next``/``run_lifecycle`` holds an ``attempt`` (its lease); every
write it makes (metrics, heartbeat, stop) passes that attempt, so after another worker took the run
over, the old holder gets LeaseLostError instead of overwriting the new attempt's data.

Buffering: inside ``run.track()`` ``add_metrics`` buffers rows (see pgtrack.buffer); outside a tracked
block each call is written at once, so what a notebook logs is visible immediately.
``Run(..., buffer=False)`` or ``track(buffer=False)`` makes every step one call inside blocks too.
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
import uuid as _uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Tuple, Union

from psycopg.rows import dict_row

from . import _statements as sql
from ._identity import has_whole_numbers, typed_identity
from ._jsonvalues import to_json
from ._lease import Lease
from ._metric_names import BIGINT, check_step
from ._writer import MetricWriter
from .args import detect_args
from .client import RETRY_FOR, Client
from .environment import capture_env
from .errors import NotFoundError, SchemaValidationError
from .paths import artefacts_path
from .status import Status
from .tracking import DEFAULT_HEARTBEAT, Tracking

if TYPE_CHECKING:
    from .experiment import Experiment

AUTO = "auto"
STOP_RETRY_FOR = 10.0  # seconds stop() keeps sending the final status while the connection is broken
READ_RETRY_FOR = 2.0  # seconds a read of the run (fields, refresh) is sent again: a cut, not an outage
BIGINT_LIMIT = BIGINT[1] + 1
# wallow's built-in run columns by their names there (schema files reserve them): run.created_at, F("updated_at")
WALLOW_COLUMNS = {"created_at": "time_created", "updated_at": "time_updated"}


def resolve_args(args: Any) -> Optional[Dict[str, Any]]:
    """'auto' → the script's docopt arguments, or {"argv": [...]} when none can be detected."""
    if args is None or isinstance(args, dict):
        return args
    if isinstance(args, str) and args == AUTO:
        try:
            return detect_args()
        except (ValueError, ImportError, SyntaxError, OSError):
            return {"argv": sys.argv[1:]}
    if hasattr(args, "keys") and hasattr(args, "__getitem__"):  # any mapping (docopt's Dict, OmegaConf, ...)
        return {key: args[key] for key in args.keys()}
    if hasattr(args, "__dict__") and not isinstance(args, (str, bytes, list, tuple, set)):  # argparse.Namespace
        return dict(vars(args))
    raise SchemaValidationError(f"args must be a dict, a mapping or an argparse.Namespace, got {type(args).__name__}: {args!r:.80}",
                                hint="pass args={'lr': 0.1}, args=vars(namespace), or 'auto' for the command line")


def resolve_env(env: Any) -> Optional[Dict[str, Any]]:
    """'auto' → the environment minus secrets (pgtrack.environment)."""
    return capture_env() if env == AUTO else env


def _timestamp(dt: Any) -> Optional[_dt.datetime]:
    """'auto' → None (the SQL side uses the database clock); an aware datetime as is."""
    if dt == AUTO:
        return None
    if not isinstance(dt, _dt.datetime) or dt.tzinfo is None:
        raise SchemaValidationError(f"expected 'auto' or a timezone-aware datetime, got {dt!r}",
                                    hint="use datetime.now(timezone.utc) or 'auto' for the database clock")
    return dt


class Run:
    """A run. ``Run(client, experiment_id, run_id=None, ...)`` gets or creates it (SQLTrack API):
    ``run_id`` None creates a new run; an int gets or creates that id (e.g. a Slurm job id); a str
    names an environment variable holding the id (``"SLURM_JOB_ID"``). status, comment, tags, args
    and env apply when the run is created ('auto' args/env are detected); ``updated`` sets
    time_updated. Fields of the run (identifying values, annotating columns, status, ...) read as
    attributes or items: ``run.lr``, ``run["status"]`` (a snapshot; ``refresh()`` reloads it)."""

    def __init__(self, client: Client, experiment_id: Optional[int] = None, run_id: Union[int, str, None] = None,
                 status: Optional[str] = None, comment: Optional[str] = None, tags: Optional[Iterable[str]] = None,
                 args: Any = None, env: Any = None, updated: Any = None, *, buffer: bool = True):
        if isinstance(run_id, str):
            value = os.environ.get(run_id)
            if not value or not value.strip().isdigit():
                raise ValueError(f"run_id={run_id!r} names an environment variable, but it holds {value!r}, not a run id")
            run_id = int(value)
        if experiment_id is None:
            if run_id is None:
                raise ValueError("Run needs an experiment_id, or the run_id of an existing run")
            experiment_id = client.value(sql.RUN_BY_ID, (run_id,))
            if experiment_id is None:
                raise NotFoundError(f"run {run_id} does not exist", hint="pass experiment_id to create it")
        values = (status, comment, None if tags is None else list(tags), _json_or_none(resolve_args(args)),
                  _json_or_none(resolve_env(env)))
        # Both are safe to send again after a lost reply: an explicit id is get-or-create, and a new run
        # is created once per request id (create_run_once), so a retry never makes a second run.
        if run_id is None:
            new_id = client.repeat(sql.CREATE_RUN_ONCE, (_uuid.uuid4(), experiment_id, *values))[0][0]
        else:
            new_id = client.repeat(sql.CREATE_RUN, (experiment_id, run_id, *values))[0][0]
        self._init(client, new_id, experiment_id, buffer=buffer)
        if updated is not None:
            self.set_updated(updated)

    def _init(self, client: Client, run_id: int, experiment_id: Optional[int], attempt: Optional[int] = None,
              snapshot: Optional[Dict[str, Any]] = None, experiment: Optional["Experiment"] = None,
              buffer: bool = True) -> None:
        self.client = client
        self.id = run_id
        self.experiment = experiment
        self.buffer = buffer
        self.lease = Lease(run_id, attempt, experiment_id)  # pgtrack._lease
        self.writer = MetricWriter(client, self.lease, self._spill_identity)  # every metric write: pgtrack._writer
        self.stopped = False  # stop() was called (and start() not since): the end of track() leaves the status alone
        self._known = dict(snapshot or {})
        self._row: Optional[Dict[str, Any]] = None

    @property
    def attempt(self) -> Optional[int]:
        """The attempt this Run holds (its lease), or None for a run it did not claim."""
        return self.lease.attempt

    @property
    def experiment_id(self) -> Optional[int]:
        return self.lease.experiment_id

    @property
    def lease_lost(self) -> bool:
        """True once a write was refused because another worker took the run over (LeaseLostError)."""
        return self.lease.lost

    @classmethod
    def _bind(cls, client: Client, run_id: int, experiment_id: Optional[int] = None, attempt: Optional[int] = None,
              snapshot: Optional[Dict[str, Any]] = None, experiment: Optional["Experiment"] = None) -> "Run":
        """A Run object for an existing run, without a database call."""
        run = cls.__new__(cls)
        run._init(client, run_id, experiment_id, attempt, snapshot, experiment)
        return run

    def __repr__(self) -> str:
        lease = f", attempt={self.attempt}" if self.attempt is not None else ""
        return f"<pgtrack.Run id={self.id} experiment_id={self.experiment_id}{lease}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("pgtrack.Run", self.id))

    # -- fields ------------------------------------------------------------------------------------

    @property
    def fields(self) -> Dict[str, Any]:
        """Columns of the run's row with its identifying values merged in (loaded once; see refresh).
        Identifying values have their declared types: a float field's 0.0 is 0.0, not 0 (``identity`` too)."""
        if self._row is None:
            rows = self.client.repeat(sql.RUN_ROW, (self.id,), READ_RETRY_FOR, row_factory=dict_row)  # a read
            if not rows:
                raise NotFoundError(f"run {self.id} does not exist")
            row = rows[0]
            if has_whole_numbers(row.get("identity")):  # a float field's 0.0 reads as 0: the declared type decides
                floats = {name for (name,) in self.client.repeat(sql.FLOAT_FIELDS, (row["experiment_id"],), READ_RETRY_FOR)}
                row["identity"] = typed_identity(row["identity"], floats)
            self._row = {**row, **(row.get("identity") or {})}
            self._row["status"] = Status(row["status"])
            self._known = {}
        return {**self._row, **self._known}

    def refresh(self) -> "Run":
        self._row, self._known = None, {}
        return self

    def __getitem__(self, name: str) -> Any:
        fields = self.fields
        if name in fields:
            return fields[name]
        lowered = name.lower()  # wallow's upper-case annotating names live in lower-case columns
        if lowered in fields:
            return fields[lowered]
        if name in WALLOW_COLUMNS:  # wallow's created_at, updated_at
            return fields[WALLOW_COLUMNS[name]]
        raise KeyError(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"run {self.id} has no field {name!r}") from None

    @property
    def uuid(self) -> str:
        return str(self._known["uuid"]) if "uuid" in self._known else str(self["uuid"])

    @property
    def status(self) -> Status:
        """The stored status as a :class:`pgtrack.status.Status`: ``run.status == "completed"`` holds
        for a COMPLETED run, and ``str(run.status)`` is the label."""
        return Status(self._known["status"] if "status" in self._known else self["status"])

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, terminated: str = "CANCELLED", started: Any = AUTO, updated: Any = AUTO,
              args: Any = None, env: Any = None) -> None:
        """RUNNING, time_started/time_updated = ``started`` ('auto': the database clock). SIGTERM
        handling (``terminated``) belongs to track(); start() alone installs no handler."""
        if args is not None:
            self.set_args(args)
        if env is not None:
            self.set_env(env)
        # Safe to send again (it sets what it sets): a connection cut during it is retried (Client.repeat).
        self.client.repeat(sql.RUN_START, (self.id, _timestamp(started), self.experiment_id))
        self._known["status"], self.stopped = "RUNNING", False

    def stop(self, status: str = "COMPLETED", updated: Any = AUTO, error: Optional[str] = None,
             retry_for: float = STOP_RETRY_FOR) -> None:
        """Final status (buffered metrics are flushed first); time_finished/time_updated = now; error.
        Sent again for up to ``retry_for`` seconds when the connection breaks."""
        self.flush()
        # Sent again for a while when the connection breaks (a second stop of the same attempt only
        # moves time_finished); track() saves the status to a spill file if the server stays away.
        self.lease.call(self.client, sql.RUN_STOP, (self.id, status, error, self.attempt, self.experiment_id),
                        retry_for=retry_for)
        self._known["status"], self.stopped = status, True

    def track(self, normal: str = "COMPLETED", exception: str = "FAILED", interrupt: str = "CANCELLED",
              terminated: str = "CANCELLED", started: Any = AUTO, updated: Any = AUTO, args: Any = None,
              env: Any = None, *, heartbeat: Optional[float] = DEFAULT_HEARTBEAT, buffer: Optional[bool] = None,
              max_rows: Optional[int] = None, max_seconds: Optional[float] = None,
              spill_after: Optional[float] = None) -> Tracking:
        """Context manager: RUNNING on entry, a final status on exit (see pgtrack.tracking). Heartbeats
        every ``heartbeat`` seconds (default 15; None turns it off); buffered rows the server cannot
        take for ``spill_after`` seconds (default 60) go to a local spill file (pgtrack.spill)."""
        return Tracking(self, normal, exception, interrupt, terminated, started, args, env, heartbeat, buffer,
                        max_rows, max_seconds, spill_after)

    def heartbeat(self) -> _dt.datetime:
        """time_updated = now (the database clock), returned; LeaseLostError if the run was taken over.
        Sent again for up to 10 s when the connection breaks (a heartbeat is safe to repeat)."""
        return self.lease.heartbeat(self.client, RETRY_FOR)

    # -- metrics: pgtrack._writer ------------------------------------------------------------------

    def add_metrics(self, step: int = 0, progress: float = 0.0, set_updated: Any = AUTO, **metrics: Any) -> None:
        """Log metrics at (step, progress); calls for one step merge. Buffered inside track().
        ``set_updated``: 'auto' (the default) sets time_updated to now, a datetime sets it to that after
        the write, None or False leaves it alone."""
        if not (type(step) is int and -BIGINT_LIMIT <= step < BIGINT_LIMIT and (type(progress) is float or type(progress) is int)):
            check_step(step, progress)
        if set_updated is AUTO:
            self.writer.add(step, progress, metrics)
            return
        dated = isinstance(set_updated, _dt.datetime)
        self.writer.add(step, progress, metrics, set_updated is not None and set_updated is not False and not dated)
        if dated:
            self.set_updated(set_updated)

    def flush(self, final: bool = False) -> int:
        """Write buffered metric rows now; returns how many were sent. Spill files this process wrote
        while the server was away (this run's, or an earlier run's of the same process: a sweep's or an
        Optuna study's trials) are loaded once a write succeeds again."""
        return self.writer.flush(final)

    def _spill_identity(self) -> Tuple[Optional[str], Optional[int]]:
        """The run's uuid and the attempt a spill file records, without a database call (track() loaded
        the row). pgtrack recover requires the attempt (it fences the rows): a run holding no claim
        records the attempt its row had, so a claim made since refuses the file (PT004) as it would a
        live write."""
        known = {**(self._row or {}), **self._known}
        uuid = known.get("uuid")
        attempt = self.attempt if self.attempt is not None else known.get("attempt")
        return None if uuid is None else str(uuid), attempt

    # -- fields: status, comment, timestamps, tags, args, env, relationships -------------------------

    def set_status(self, status: Optional[str]) -> None:
        if status is not None:
            self.client.execute(sql.RUN_SET_STATUS, (self.id, status))
            self._known["status"] = status

    def set_comment(self, comment: Optional[str]) -> None:
        """Set the comment (None does nothing, as in SQLTrack; clear it with an empty string)."""
        if comment is not None:
            self.client.execute(sql.RUN_SET_COMMENT, (self.id, comment))

    def _set_time(self, which: str, dt: Any) -> None:
        if dt is not None:
            self.client.execute(sql.RUN_SET_TIME[which], (self.id, _timestamp(dt)))

    def set_created(self, dt: Any = AUTO) -> None:
        self._set_time("created", dt)

    def set_started(self, dt: Any = AUTO) -> None:
        self._set_time("started", dt)

    def set_updated(self, dt: Any = AUTO) -> None:
        self._set_time("updated", dt)

    def _tags(self, mode: str, tags: Iterable[str]) -> None:
        self.client.execute(sql.RUN_TAGS[mode], (self.id, list(tags)))

    def set_tags(self, *tags: str) -> None:
        self._tags("set", tags)

    def add_tags(self, *tags: str) -> None:
        self._tags("add", tags)

    def remove_tags(self, *tags: str) -> None:
        self._tags("remove", tags)

    def _json_field(self, field: str, mode: str, value: Any) -> None:
        if value is None:
            return
        if mode == "remove":
            self.client.execute(sql.RUN_JSON[(field, mode)], (self.id, list(value)))
        else:
            resolved = resolve_args(value) if field == "args" else resolve_env(value)
            self.client.execute(sql.RUN_JSON[(field, mode)], (self.id, to_json(resolved)))

    def set_args(self, args: Any = AUTO) -> None:
        self._json_field("args", "set", args)

    def add_args(self, args: Any = AUTO) -> None:
        self._json_field("args", "add", args)

    def remove_args(self, *keys: str) -> None:
        self._json_field("args", "remove", keys)

    def set_env(self, env: Any = AUTO) -> None:
        self._json_field("env", "set", env)

    def add_env(self, env: Any = AUTO) -> None:
        self._json_field("env", "add", env)

    def remove_env(self, *keys: str) -> None:
        self._json_field("env", "remove", keys)

    def add_relationship(self, kind: str, to_id: int) -> None:
        self.client.execute(sql.RUN_RELATIONSHIP["add"], (self.id, kind, _id_of(to_id)))

    def remove_relationship(self, kind: str, to_id: int) -> None:
        self.client.execute(sql.RUN_RELATIONSHIP["remove"], (self.id, kind, _id_of(to_id)))

    add_link = add_relationship  # SQLTrack 0.1.4's names (its docs say relationship)
    remove_link = remove_relationship

    # -- artefacts ---------------------------------------------------------------------------------

    def artefacts_dir(self, root: Union[str, os.PathLike, None] = None, layout: Optional[str] = None, *parts: Any,
                      mkdir: bool = False) -> Path:
        """``root / layout / *parts`` with ``{field}`` placeholders (identifying and annotating fields,
        ``uuid``, ``id``) filled from this run and sanitised; never outside root (pgtrack.paths).
        root and layout default to the schema's artefacts_root / artefacts_layout ('{uuid}')."""
        schema = getattr(self.experiment, "schema_defaults", None) or {}
        root = root if root is not None else schema.get("artefacts_root")
        layout = layout if layout is not None else schema.get("artefacts_layout", "{uuid}")
        return artefacts_path(root, layout, self.fields, parts, mkdir=mkdir)


def _json_or_none(value: Any) -> Optional[str]:
    return None if value is None else to_json(value)


def _id_of(value: Any) -> int:
    return value.id if hasattr(value, "id") else value
