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
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set, Union

import psycopg
from psycopg.rows import dict_row

from . import copy_rows, metric_row, metric_values, notices, spill
from . import statements as sql
from .args import detect_args
from .buffer import DEFAULT_MAX_ROWS, DEFAULT_MAX_SECONDS, DEFAULT_SPILL_AFTER, MetricBuffer
from .client import RETRY_FOR, Client
from .environment import capture_env
from .errors import LeaseLostError, NotFoundError, SchemaValidationError, ServerUnreachable
from .jsonvalues import json_batches, to_json
from .metric_names import BIGINT, check_step
from .paths import artefacts_path
from .status import Status
from .tracking import DEFAULT_HEARTBEAT, Tracking

if TYPE_CHECKING:
    from .experiment import Experiment

AUTO = "auto"
STOP_RETRY_FOR = 10.0  # seconds stop() keeps sending the final status while the connection is broken
READ_RETRY_FOR = 2.0  # seconds a read of the run (fields, refresh) is sent again: a cut, not an outage
CUT_RETRY_FOR = 0.3  # an unbuffered step is sent again once or twice (a reset connection), never waits out an outage
BIGINT_LIMIT = BIGINT[1] + 1


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
        self.experiment_id = experiment_id
        self.attempt = attempt
        self.experiment = experiment
        self.buffer = buffer
        self.lease_lost = False
        self._lease_error: Optional[LeaseLostError] = None
        self._known = dict(snapshot or {})
        self._row: Optional[Dict[str, Any]] = None
        self._buffer: Optional[MetricBuffer] = None
        self._stopped = False
        self._rejected_warned = False  # the first refused metric row warns, later ones are counted
        self._new_names_warned = False  # the first new metric logged while the server is away warns
        self._tracking = False  # inside track(): an outage never reaches add_metrics' caller

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
        """Columns of the run's row with its identifying values merged in (loaded once; see refresh)."""
        if self._row is None:
            rows = self.client.repeat(sql.RUN_ROW, (self.id,), READ_RETRY_FOR, row_factory=dict_row)  # a read
            if not rows:
                raise NotFoundError(f"run {self.id} does not exist")
            self._row = {**rows[0], **(rows[0].get("identity") or {})}
            self._row["status"] = Status(rows[0]["status"])
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
        self._known["status"], self._stopped = "RUNNING", False

    def _begin(self, started: Any) -> None:
        """Entering track(): a claimed run (holding an attempt) proves its lease with a heartbeat;
        any other run is started."""
        if self.attempt is not None:
            self.heartbeat()
            self._stopped = False
        else:
            self.start(started=started)

    def stop(self, status: str = "COMPLETED", updated: Any = AUTO, error: Optional[str] = None,
             retry_for: float = STOP_RETRY_FOR) -> None:
        """Final status (buffered metrics are flushed first); time_finished/time_updated = now; error.
        Sent again for up to ``retry_for`` seconds when the connection breaks."""
        self.flush()
        # Sent again for a while when the connection breaks (a second stop of the same attempt only
        # moves time_finished); track() saves the status to a spill file if the server stays away.
        self._lease_call(self.client, sql.RUN_STOP, (self.id, status, error, self.attempt, self.experiment_id),
                         retry_for=retry_for)
        self._known["status"], self._stopped = status, True

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
        return self._heartbeat_with(self.client, RETRY_FOR)

    def _heartbeat_with(self, client: Client, retry_for: float = 0.0) -> _dt.datetime:
        self._check_lease()
        return self._lease_call(client, sql.HEARTBEAT, (self.id, self.attempt, self.experiment_id), retry_for)

    def _lease_call(self, client: Client, statement: str, params: tuple, retry_for: float = 0.0) -> Any:
        """The statement's value; a lost lease is remembered (lease_lost). ``retry_for``: the statement is
        safe to repeat, and is sent again for that long when the connection breaks (Client.repeat)."""
        try:
            if retry_for:
                rows = client.repeat(statement, params, retry_for)
                return rows[0][0] if rows else None
            return client.value(statement, params)
        except LeaseLostError as exc:
            self.lease_lost, self._lease_error = True, exc
            raise

    def _promise_heartbeat(self, every: float) -> None:
        """Record on the run that its holder heartbeats every ``every`` seconds (track() does): it then
        shows as LOST after three silent intervals rather than the experiment's lost_after."""
        try:
            self._lease_call(self.client, sql.SET_HEARTBEAT, (self.id, float(every), self.attempt, self.experiment_id))
        except psycopg.OperationalError:
            pass  # the server is away: the run keeps the experiment's lost_after; training goes on

    def _check_lease(self) -> None:
        if self.lease_lost:
            raise self._lease_error or LeaseLostError(f"lease lost on run {self.id}")

    # -- metrics -----------------------------------------------------------------------------------

    def add_metrics(self, step: int = 0, progress: float = 0.0, set_updated: Any = AUTO, **metrics: Any) -> None:
        """Log metrics at (step, progress); calls for one step merge. Buffered inside track()."""
        buffer = self._buffer
        if (set_updated is AUTO and type(step) is int and -BIGINT_LIMIT <= step < BIGINT_LIMIT
                and (type(progress) is float or type(progress) is int) and not self.lease_lost):
            client = self.client
            cached = client._metric_names  # the common cases, kept short: what follows checks it all
            if cached is not None and cached.issuperset(metrics):
                for value in metrics.values():
                    if value.__class__ is not float:  # ints too: 10 ** 400 fits no double
                        metric_values.check(metrics, client._float_names, cached)
                        break
                if buffer is not None:
                    metrics["step"], metrics["progress"] = step, progress  # **metrics is this call's own dict
                    buffer.add(metrics)
                    return
                # Unbuffered: what the general path below does for these arguments, without its checks.
                try:
                    if self._write_row(step, progress, metrics, client._copyable_names):
                        return
                    self._lease_call(client, sql.ADD_METRICS,  # an upsert that merges: sent again after a cut
                                     (self.id, step, progress, to_json(metrics), True, self.attempt, False, self.experiment_id),
                                     CUT_RETRY_FOR)
                except ServerUnreachable:
                    if not self._tracking:
                        raise
                    self._hold(step, progress, metrics, True)
                return
        self._check_lease()
        touch = set_updated is not None and set_updated is not False
        if isinstance(set_updated, _dt.datetime):
            touch = False
        check_step(step, progress)
        buffer = self._buffer
        buffered = buffer is not None and touch
        keeps = buffered or (self._tracking and touch)  # inside track() a row outlives an outage
        try:
            known = self._known_metrics(metrics)
        except psycopg.OperationalError:  # the names could not be looked up: the server is away
            if not keeps:
                raise
            known = False
        metric_values.check(metrics, self.client._float_names, self.client._metric_names or set())
        if buffered and known:
            assert buffer is not None  # buffered says so
            metrics["step"], metrics["progress"] = step, progress  # **metrics is this call's own dict
            buffer.add(metrics)
        else:
            try:
                self.flush()  # keep the order of writes
                if touch and known and self._write_row(step, progress, metrics):
                    return
                # A name without a column gets one (double precision) in the same call, when the caller
                # may add metrics; a pgtrack_writer gets SchemaChangeError naming client.add_metric.
                self._lease_call(self.client, sql.ADD_METRICS,  # idempotent, so sent again after a cut
                                 (self.id, step, progress, to_json(metrics), touch, self.attempt, not known, self.experiment_id),
                                 CUT_RETRY_FOR)
            except psycopg.OperationalError as exc:
                if not keeps or not isinstance(exc, ServerUnreachable) and not buffered:
                    raise
                self._hold(step, progress, metrics, known)
                return
            if not known:
                self.client._metric_names = None  # reload: the columns exist now
        if isinstance(set_updated, _dt.datetime):
            self.set_updated(set_updated)

    def _hold(self, step: int, progress: Any, metrics: Dict[str, Any], known: bool) -> None:
        """Inside track(), the server is away: the row waits in the buffer like any other, and its new
        names get their columns when a flush reaches the server (_write_batch). A block that logs
        unbuffered (buffer=False) gets a buffer now, for the rest of the block: the rows logged during
        the outage are kept, retried and spilled as buffered ones are."""
        if self._buffer is None:
            self._open_buffer(None, None, None)
            self._warn("the server is away; this block's metric rows are buffered from now on (kept, retried, and "
                       "saved to a local file if the outage lasts); training goes on")
        new = sorted(set(metrics) - (self.client._metric_names or set()))
        if not known and new and not self._new_names_warned:
            self._new_names_warned = True
            self._warn(f"the server is away; new metric(s) {', '.join(map(repr, new))} wait in the buffer and get "
                       "their columns when it is back; training goes on")
        metrics["step"], metrics["progress"] = step, progress  # **metrics is the caller's call's own dict
        self._buffer.add(metrics)  # type: ignore[union-attr]

    def _write_row(self, step: int, progress: Any, metrics: Dict[str, Any], float_columns: Optional[Set[str]] = None) -> bool:
        """An unbuffered step as one typed statement when it qualifies (pgtrack.metric_row); False
        when run_add_metrics must write it (or say why it cannot).

        The open connection is used as it is, without the check for a connection the server closed
        that every other call makes (``Client._connection``: a select() that costs an unbuffered step
        about 4%, measured in docs/design.md). The step is idempotent (an upsert that merges), so when
        the server did close it (a restart, ``idle_session_timeout``, ``pg_terminate_backend``) the
        statement fails before it runs and run_add_metrics writes the step on a new connection."""
        client = self.client
        if client._depth:  # inside client.connect() the generated writers touch once per transaction
            return False
        conn = client._conn
        if conn is None or conn.closed:
            conn = client._connection()
        try:
            return metric_row.write(client._reused_cursor(conn), self.id, self.attempt, self.experiment_id, step, progress, metrics,
                                    client._copyable_metric_names() if float_columns is None else float_columns)
        except psycopg.OperationalError as exc:
            if not conn.closed and exc.sqlstate and not exc.sqlstate.startswith("08"):
                raise  # a timeout, a cancel: the connection is fine, the caller hears of it
            conn.close()  # psycopg may see the socket hang up before libpq marks the connection bad
            return False

    def _known_metrics(self, metrics: Dict[str, Any]) -> bool:
        """True if every name is a metric column (cached per client, reloaded once on a miss). A row
        with an unknown name is sent unbuffered with add_missing, so the column is made (or the
        server's refusal reaches this very call)."""
        return self.client.metric_names(refresh_unless=metrics).issuperset(metrics)

    def _write_batch(self, rows: List[Dict[str, Any]], client: Optional[Client] = None) -> int:
        """A flush: by COPY when the rows qualify (pgtrack.copy_rows), else one run_add_metrics_batch."""
        client = client or self.client
        if not client.in_transaction_block:  # inside client.connect() the caller's transaction decides
            try:
                written = copy_rows.copy(client._connection(), self.id, rows, client._copyable_metric_names(), self.attempt,
                                         self.experiment_id)
            except LeaseLostError as exc:
                self.lease_lost, self._lease_error = True, exc
                raise
            if written is not None:
                return written
        # Rows logged while the server was away may name metrics that have no column yet: made now.
        cached = client._metric_names
        missing = cached is None or not cached.issuperset(name for row in rows for name in row if name not in ("step", "progress"))
        written = sum(self._lease_call(client, sql.ADD_METRICS_BATCH, (self.id, batch, True, self.attempt, missing, self.experiment_id))
                      for batch in json_batches(rows))
        if missing:
            client._metric_names = None  # reload: the columns exist now
        return written

    def flush(self, final: bool = False) -> int:
        """Write buffered metric rows now; returns how many were sent. Spill files this process wrote
        while the server was away (this run's, or an earlier run's of the same process: a sweep's or an
        Optuna study's trials) are loaded once a write succeeds again."""
        buffer = self._buffer
        if buffer is None:
            return 0
        sent = buffer.flush(final=final)
        if sent and buffer.failing_since is None and spill.pending():
            self._load_spilled()
        return sent

    def _load_spilled(self) -> None:
        try:
            loaded = spill.recover_written(self.client)
        except psycopg.OperationalError:
            return  # the server went away again: the files wait for the next success
        if not loaded["files"]:
            return  # another process (or pgtrack recover) took them first: nothing to tell
        stopped = loaded["stopped"]
        statuses = f" and {stopped} final status{'es' if stopped != 1 else ''}" if stopped else ""
        notices.warn(f"pgtrack: the server is back: loaded {loaded['rows']} metric rows{statuses} that this process had "
                     f"saved to spill files ({loaded['files']} file{'s' if loaded['files'] != 1 else ''})", stacklevel=4)

    def _open_buffer(self, max_rows: Optional[int], max_seconds: Optional[float],
                     spill_after: Optional[float] = None) -> None:
        if self._buffer is None:
            self._buffer = MetricBuffer(self._write_batch, max_rows or DEFAULT_MAX_ROWS, max_seconds or DEFAULT_MAX_SECONDS,
                                        spill=self._spill, spill_after=spill_after or DEFAULT_SPILL_AFTER, warn=self._warn,
                                        reject=self._rejected)
            self._buffer.label = f"run {self.id}: "

    def _rejected(self, rows: List[Dict[str, Any]], error: Exception) -> None:
        """Rows of a flush the server refused (the others were stored): the first time a warning, and
        always a count on the run (runs.metric_rows_rejected), so the dashboard and inspect show it."""
        if not self._rejected_warned:
            self._rejected_warned = True
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            self._warn(f"the server refused {len(rows)} metric row(s) (step {rows[0].get('step')}: {first}); the other rows "
                       "are stored and training goes on; runs.metric_rows_rejected counts every refused row")
        try:
            self._lease_call(self.client, sql.COUNT_REJECTED, (self.id, len(rows), self.attempt, self.experiment_id))
        except psycopg.OperationalError:
            pass  # the rows are refused either way; only the count is lost with the connection

    def _spill(self, rows: List[Dict[str, Any]], stop: Optional[Dict[str, Any]] = None) -> Path:
        known = {**(self._row or {}), **self._known}  # track() loaded the row: no database call here
        uuid = known.get("uuid")
        # pgtrack recover requires the attempt (it fences the rows): a run holding no claim records the
        # attempt its row had, so a claim made since refuses the file (PT004) as it would a live write.
        attempt = self.attempt if self.attempt is not None else known.get("attempt")
        return spill.write(self.id, None if uuid is None else str(uuid), attempt, rows, stop)

    def _warn(self, message: str) -> None:
        notices.warn(f"pgtrack: run {self.id}: {message}", stacklevel=4)

    def _close_buffer(self) -> None:
        buffer, self._buffer = self._buffer, None
        if buffer is not None and len(buffer):
            notices.warn(f"pgtrack: {len(buffer)} metric rows of run {self.id} could not be written")

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
