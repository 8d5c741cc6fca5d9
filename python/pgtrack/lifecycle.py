"""wallow's lifecycle helper, made safe for many workers.

``with run_lifecycle(store, identifying={...}) as handle:`` claims the run with ``claim_if_stale``
(one atomic statement), runs the body inside ``run.track()`` with a background heartbeat, and ends it:

- a COMPLETED run raises :class:`pgtrack.AlreadyCompleted` before the body runs (``force=True`` runs
  it again); a run another worker holds and heartbeats raises :class:`pgtrack.AlreadyRunning`
  (wallow silently took it over);
- ``handle.finalise(annotating)`` writes the annotating fields and marks the run COMPLETED; a body
  that returns without calling it is finalised with no fields; an exception raised after finalise()
  leaves the run COMPLETED;
- an exception marks the run FAILED with the type, message and traceback tail in ``runs.error``
  (KeyboardInterrupt and SIGTERM: CANCELLED) and is re-raised.

Both signatures work: wallow's ``run_lifecycle(store, *, identifying, force=False,
start_annotating=None)`` and pgtrack's ``run_lifecycle(experiment, identifying, annotating=None, *,
stale_after, force, heartbeat)``; ``start_annotating`` is ``annotating`` (written when the run is
claimed), and giving both is a TypeError.

wallow's lifecycle schema declares the annotating fields ``started_at``, ``completed_at``
(datetime), ``wallclock_seconds`` (float) and ``error_excerpt`` (string); when the runs table has
such a column (of that type) it is written as wallow wrote it: ``started_at`` at the claim (which
also clears ``error_excerpt``, so a rerun that succeeds shows none), ``completed_at`` and
``wallclock_seconds`` at finalise and on failure, and on failure ``error_excerpt``, the exception's
``"Type: message"`` cut to 1000 characters. The failure write never hides the body's exception: if it
cannot be made (lease lost, server gone) a RuntimeWarning says so. Values the caller passes win.

``heartbeat`` defaults to a third of ``stale_after`` (pass 0 to switch it off), so a long body keeps
its claim; every write passes the claimed attempt, so a worker that lost its claim gets LeaseLostError.
"""
from __future__ import annotations

import datetime as _dt
import time
import traceback
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Dict, Iterator, Mapping, Optional

from . import _notices
from . import _statements as sql
from .errors import AlreadyCompleted, AlreadyRunning
from .registry import experiment_of
from .run import Run
from .store import Store

if TYPE_CHECKING:
    from .experiment import Experiment

# wallow's lifecycle columns and the column types that take their values
WALLOW_COLUMNS = {"started_at": ("timestamp with time zone",), "completed_at": ("timestamp with time zone",),
                  "wallclock_seconds": ("double precision", "real", "numeric"),
                  "error_excerpt": ("text", "character varying")}
EXCERPT_MAX = 1000  # characters of error_excerpt, as wallow


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _excerpt(exc: BaseException) -> str:
    """``"Type: message"`` of an exception, at most EXCERPT_MAX characters (the cut ones end in "...")."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text if len(text) <= EXCERPT_MAX else text[:EXCERPT_MAX - 3] + "..."


def lifecycle_columns(client: Any) -> set:
    """Which of wallow's lifecycle columns the runs table has, with a type that takes the value (one query)."""
    rows = client.repeat(sql.RUN_COLUMN_TYPES, (list(WALLOW_COLUMNS),))
    return {name for name, kind in rows if kind in WALLOW_COLUMNS[name]}


class LifecycleHandle:
    """What the body of run_lifecycle() gets (wallow's WorkerHandle): ``run``, ``store``,
    ``identifying``, ``uuid``, ``started_at`` (aware UTC, when the run was claimed), ``elapsed()``,
    ``finalise(annotating=None)``; pgtrack's ``experiment``, ``run_id``, ``attempt`` too."""

    def __init__(self, experiment: "Experiment", identifying: Mapping[str, Any], run: Run, store: Optional[Store] = None,
                 started_at: Optional[_dt.datetime] = None, columns: Optional[set] = None):
        self.experiment, self.identifying, self.run = experiment, dict(identifying), run
        self.store = store if store is not None else Store(experiment)
        self.started_at = started_at if started_at is not None else _now()
        self._columns = columns if columns is not None else lifecycle_columns(run.client)
        self._t0 = time.perf_counter()
        self.finalised = False

    @property
    def run_id(self) -> int:
        return self.run.id

    @property
    def attempt(self) -> Optional[int]:
        return self.run.attempt

    @property
    def uuid(self) -> str:
        return self.run.uuid

    def elapsed(self) -> float:
        """Seconds since the claim."""
        return time.perf_counter() - self._t0

    def _ending(self, fields: Dict[str, Any]) -> Dict[str, Any]:
        """``fields`` plus wallow's completed_at and wallclock_seconds where those columns exist."""
        if "completed_at" in self._columns:
            fields.setdefault("completed_at", _now())
        if "wallclock_seconds" in self._columns:
            fields.setdefault("wallclock_seconds", self.elapsed())
        return fields

    def finalise(self, annotating: Optional[Mapping[str, Any]] = None) -> None:
        """Write annotating fields and mark the run COMPLETED (idempotent: a second call does nothing)."""
        if self.finalised:
            return
        fields = self._ending(dict(annotating or {}))
        status = fields.pop("status", "COMPLETED")
        self.run.heartbeat()  # proves the lease (LeaseLostError) right before writing
        if fields:
            self.experiment.register(self.identifying, fields, on_duplicate="overwrite")
        self.run.stop(status)
        self.finalised = True

    def _record_failure(self, exc: BaseException) -> None:
        """wallow's failure fields (error_excerpt, completed_at, wallclock_seconds) where the columns
        exist; never raises (the body's exception is what the caller must see)."""
        fields = self._ending({"error_excerpt": _excerpt(exc)} if "error_excerpt" in self._columns else {})
        if not fields:
            return
        try:
            self.run.heartbeat()  # the lease, as finalise: a run another worker took is not written
            self.experiment.register(self.identifying, fields, on_duplicate="overwrite")
        except Exception as error:  # noqa: BLE001  (any failure of this write: the body's exception goes on)
            _notices.warn(f"run {self.run.id}: the failure fields ({', '.join(sorted(fields))}) were not written: {error}")


WorkerHandle = LifecycleHandle  # wallow's name


@contextmanager
def run_lifecycle(experiment: Any, identifying: Mapping[str, Any], annotating: Optional[Mapping[str, Any]] = None,
                  *, start_annotating: Optional[Mapping[str, Any]] = None,
                  stale_after: _dt.timedelta = _dt.timedelta(minutes=10), force: bool = False,
                  heartbeat: Optional[float] = None) -> Iterator[LifecycleHandle]:
    """Claim, run and finalise one configuration (see the module docstring). ``experiment`` may be a
    Store; ``start_annotating`` is wallow's name for ``annotating``."""
    if start_annotating is not None:
        if annotating is not None:
            raise TypeError("run_lifecycle() takes annotating or start_annotating (wallow's name), not both")
        annotating = start_annotating
    store = experiment if isinstance(experiment, Store) else None
    experiment = experiment_of(experiment)
    columns = lifecycle_columns(experiment.client)
    started_at = _now()
    claim = dict(annotating or {})
    if "started_at" in columns:
        claim.setdefault("started_at", started_at)
    if "error_excerpt" in columns:
        claim.setdefault("error_excerpt", None)  # a new attempt starts without the last one's error
    result = experiment.register(identifying, claim, on_duplicate="claim_if_stale", stale_after=stale_after)
    run = result.run
    assert run is not None  # claim_if_stale always names the run (None is for on_duplicate='skip')
    if result.was_skipped:
        if run.status != "COMPLETED":
            raise AlreadyRunning(run)
        if not force:
            raise AlreadyCompleted(run)
        run.set_status("PENDING")  # claimable at once; the claim below is still atomic among forced workers
        result = experiment.register(identifying, claim, on_duplicate="claim_if_stale", stale_after=stale_after)
        if result.was_skipped:
            raise AlreadyRunning(result.run)
        run = result.run
        assert run is not None  # as above
    if heartbeat is None:
        heartbeat = stale_after.total_seconds() / 3
    handle = LifecycleHandle(experiment, identifying, run, store, started_at, columns)
    with run.track(heartbeat=heartbeat or None):
        try:
            yield handle
        except BaseException as exc:
            if not handle.finalised:
                handle._record_failure(exc)
            raise
        handle.finalise()
