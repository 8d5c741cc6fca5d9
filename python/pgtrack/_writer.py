"""The metric writes of one run: the route each row takes to pgtrack.metrics, its buffer, and what
happens when the server is away or refuses a row.

Routes, chosen here and nowhere else:

- buffered (inside ``run.track()``): rows wait in a :class:`MetricBuffer`; a flush writes them by
  binary COPY when they qualify (pgtrack._copy), else by ``run_add_metrics_batch``;
- unbuffered: one typed statement written by the server for the step's names (pgtrack._step), else
  ``run_add_metrics`` (which also makes the column of a new name, and says why a value cannot be
  stored).

Every route passes the run's lease (pgtrack._lease): a refusal for a lost lease is remembered there,
and every later write raises it. Inside ``track()`` a write that cannot reach the server keeps its
row in the buffer (opened then for an unbuffered block), retried and spilled to a local file if the
outage lasts (pgtrack.buffer, pgtrack.spill): tracking never kills training.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import psycopg

from . import _copy, _metric_values, _notices, _step, spill
from . import _statements as sql
from ._jsonvalues import json_batches, to_json
from .buffer import DEFAULT_MAX_ROWS, DEFAULT_MAX_SECONDS, DEFAULT_SPILL_AFTER, MetricBuffer
from .errors import LeaseLostError, ServerUnreachable

if TYPE_CHECKING:
    from ._lease import Lease
    from .client import Client

CUT_RETRY_FOR = 0.3  # an unbuffered step is sent again once or twice (a reset connection), never waits out an outage
Row = Dict[str, Any]


class MetricWriter:
    """Writes one run's metric rows; see the module docstring. ``spill_identity()`` gives the run's
    uuid and the attempt a spill file records (the run knows them without a database call)."""

    def __init__(self, client: "Client", lease: "Lease", spill_identity: Callable[[], Tuple[Optional[str], Optional[int]]]):
        self.client = client
        self.lease = lease
        self.spill_identity = spill_identity
        self.buffer: Optional[MetricBuffer] = None
        self.tracking = False  # inside track(): an outage never reaches add_metrics' caller
        self._rejected_warned = False  # the first refused metric row warns, later ones are counted
        self._new_names_warned = False  # the first new metric logged while the server is away warns

    # -- one call of add_metrics -------------------------------------------------------------------

    def add(self, step: int, progress: Any, metrics: Row, touch: bool = True) -> None:
        """Log ``metrics`` at (step, progress), which the caller checked; ``metrics`` is the call's own
        dict. ``touch``: set the run's time_updated (the routes but run_add_metrics always do)."""
        lease = self.lease
        if lease.lost:
            lease.check()
        columns = self.client.columns
        known = columns.known
        if touch and known is not None and known.issuperset(metrics):  # the common case, kept short
            for value in metrics.values():
                if value.__class__ is not float:  # ints too: 10 ** 400 fits no double
                    _metric_values.check(metrics, columns.floats, known)
                    break
            buffer = self.buffer
            if buffer is not None:
                metrics["step"], metrics["progress"] = step, progress
                buffer.add(metrics)
                return
            try:
                self._send(step, progress, metrics, True, True)
            except ServerUnreachable:
                if not self.tracking:
                    raise
                self._hold(step, progress, metrics, True)
            return
        self._add_checked(step, progress, metrics, touch)

    def _add_checked(self, step: int, progress: Any, metrics: Row, touch: bool) -> None:
        """add() for names not all known to be columns, or without the touch."""
        buffer = self.buffer
        buffered = buffer is not None and touch
        keeps = buffered or (self.tracking and touch)  # inside track() a row outlives an outage
        columns = self.client.columns
        try:
            known = self.client.metric_names(refresh_unless=metrics).issuperset(metrics)
        except psycopg.OperationalError:  # the names could not be looked up: the server is away
            if not keeps:
                raise
            known = False
        _metric_values.check(metrics, columns.floats, columns.known or set())
        if buffered and known:
            metrics["step"], metrics["progress"] = step, progress
            buffer.add(metrics)  # type: ignore[union-attr]  # buffered says so
            return
        try:
            self.flush()  # keep the order of writes
            self._send(step, progress, metrics, touch, known)
        except psycopg.OperationalError as exc:
            if not keeps or not isinstance(exc, ServerUnreachable) and not buffered:
                raise
            self._hold(step, progress, metrics, known)
            return
        if not known:
            columns.forget()  # reload: the columns exist now

    def _send(self, step: int, progress: Any, metrics: Row, touch: bool, known: bool) -> None:
        """One unbuffered step: the typed statement when it can carry it, else run_add_metrics, which
        makes a new name's column (double precision) in the same call when the caller may add metrics
        (a pgtrack_writer gets SchemaChangeError naming client.add_metric), and is sent again after a
        cut (an upsert that merges)."""
        if touch and known and self._write_step(step, progress, metrics):
            return
        lease = self.lease
        lease.call(self.client, sql.ADD_METRICS,
                   (lease.run_id, step, progress, to_json(metrics), touch, lease.attempt, not known, lease.experiment_id),
                   CUT_RETRY_FOR)

    def _write_step(self, step: int, progress: Any, metrics: Row) -> bool:
        """The typed statement (pgtrack._step); False when run_add_metrics must write the step.

        The open connection is used as it is, without the check for a connection the server closed
        that every other call makes (``Client.connection``: a select() that costs an unbuffered step
        about 4%, measured in docs/design.md). The step is idempotent (an upsert that merges), so when
        the server did close it (a restart, ``idle_session_timeout``, ``pg_terminate_backend``) the
        statement fails before it runs and run_add_metrics writes the step on a new connection."""
        client = self.client
        if client.in_transaction_block:  # inside client.connect() the generated writers touch once per transaction
            return False
        conn = client.open_connection()
        columns = client.columns
        try:
            return _step.write(client.step_cursor(conn), columns, self.lease, step, progress, metrics, columns.copyable)
        except psycopg.OperationalError as exc:
            if not conn.closed and exc.sqlstate and not exc.sqlstate.startswith("08"):
                raise  # a timeout, a cancel: the connection is fine, the caller hears of it
            conn.close()  # psycopg may see the socket hang up before libpq marks the connection bad
            return False

    def _hold(self, step: int, progress: Any, metrics: Row, known: bool) -> None:
        """Inside track(), the server is away: the row waits in the buffer like any other, and its new
        names get their columns when a flush reaches the server (write_batch). A block that logs
        unbuffered (buffer=False) gets a buffer now, for the rest of the block: the rows logged during
        the outage are kept, retried and spilled as buffered ones are."""
        if self.buffer is None:
            self.open_buffer(None, None, None)
            self.warn("the server is away; this block's metric rows are buffered from now on (kept, retried, and "
                      "saved to a local file if the outage lasts); training goes on")
        new = sorted(set(metrics) - (self.client.columns.known or set()))
        if not known and new and not self._new_names_warned:
            self._new_names_warned = True
            self.warn(f"the server is away; new metric(s) {', '.join(map(repr, new))} wait in the buffer and get "
                      "their columns when it is back; training goes on")
        metrics["step"], metrics["progress"] = step, progress
        self.buffer.add(metrics)  # type: ignore[union-attr]

    # -- buffered rows -----------------------------------------------------------------------------

    def write_batch(self, rows: List[Row], client: Optional["Client"] = None) -> int:
        """A flush: by COPY when the rows qualify (pgtrack._copy), else one run_add_metrics_batch per
        batch of rows. ``client``: the background thread's own (pgtrack.tracking.Keeper)."""
        client = client or self.client
        lease = self.lease
        if not client.in_transaction_block:  # inside client.connect() the caller's transaction decides
            try:
                written = _copy.copy(client.connection(), lease.run_id, rows, client.copyable_metric_names(), lease.attempt,
                                     lease.experiment_id)
            except LeaseLostError as exc:
                lease.lose(exc)
                raise
            if written is not None:
                return written
        # Rows logged while the server was away may name metrics that have no column yet: made now.
        cached = client.columns.known
        missing = cached is None or not cached.issuperset(name for row in rows for name in row if name not in ("step", "progress"))
        written = sum(lease.call(client, sql.ADD_METRICS_BATCH, (lease.run_id, batch, True, lease.attempt, missing, lease.experiment_id))
                      for batch in json_batches(rows))
        if missing:
            client.columns.forget()  # reload: the columns exist now
        return written

    def flush(self, final: bool = False) -> int:
        """Write buffered rows now; returns how many were sent. Spill files this process wrote while the
        server was away (this run's, or an earlier run's of the same process: a sweep's or an Optuna
        study's trials) are loaded once a write succeeds again."""
        buffer = self.buffer
        if buffer is None:
            return 0
        sent = buffer.flush(final=final)
        if sent and buffer.failing_since is None and spill.pending():
            self.load_spilled()
        return sent

    def load_spilled(self) -> None:
        try:
            loaded = spill.recover_written(self.client)
        except psycopg.OperationalError:
            return  # the server went away again: the files wait for the next success
        if not loaded["files"]:
            return  # another process (or pgtrack recover) took them first: nothing to tell
        stopped = loaded["stopped"]
        statuses = f" and {stopped} final status{'es' if stopped != 1 else ''}" if stopped else ""
        _notices.warn(f"pgtrack: the server is back: loaded {loaded['rows']} metric rows{statuses} that this process had "
                     f"saved to spill files ({loaded['files']} file{'s' if loaded['files'] != 1 else ''})", stacklevel=4)

    def open_buffer(self, max_rows: Optional[int], max_seconds: Optional[float], spill_after: Optional[float] = None) -> None:
        if self.buffer is None:
            self.buffer = MetricBuffer(self.write_batch, max_rows or DEFAULT_MAX_ROWS, max_seconds or DEFAULT_MAX_SECONDS,
                                       spill=self.spill, spill_after=spill_after or DEFAULT_SPILL_AFTER, warn=self.warn,
                                       reject=self._rejected)
            self.buffer.label = f"run {self.lease.run_id}: "

    def close_buffer(self) -> None:
        buffer, self.buffer = self.buffer, None
        if buffer is not None and len(buffer):
            _notices.warn(f"pgtrack: {len(buffer)} metric rows of run {self.lease.run_id} could not be written")

    def _rejected(self, rows: List[Row], error: Exception) -> None:
        """Rows of a flush the server refused (the others were stored): the first time a warning, and
        always a count on the run (runs.metric_rows_rejected), so the dashboard and inspect show it."""
        if not self._rejected_warned:
            self._rejected_warned = True
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            self.warn(f"the server refused {len(rows)} metric row(s) (step {rows[0].get('step')}: {first}); the other rows "
                      "are stored and training goes on; runs.metric_rows_rejected counts every refused row")
        lease = self.lease
        try:
            lease.call(self.client, sql.COUNT_REJECTED, (lease.run_id, len(rows), lease.attempt, lease.experiment_id))
        except psycopg.OperationalError:
            pass  # the rows are refused either way; only the count is lost with the connection

    def spill(self, rows: List[Row], stop: Optional[Dict[str, Any]] = None) -> Path:
        """Rows (and, at the end of track(), the final status) the server could not take, to a local
        spill file that pgtrack recover or this process's next successful write loads."""
        uuid, attempt = self.spill_identity()
        return spill.write(self.lease.run_id, uuid, attempt, rows, stop)

    def warn(self, message: str) -> None:
        _notices.warn(f"pgtrack: run {self.lease.run_id}: {message}", stacklevel=4)
