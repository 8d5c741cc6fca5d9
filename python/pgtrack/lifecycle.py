"""wallow's lifecycle helper, made safe for many workers.

``with run_lifecycle(experiment, identifying) as handle:`` claims the run with ``claim_if_stale``
(one atomic statement), runs the body inside ``run.track()`` with a background heartbeat, and ends it:

- a COMPLETED run raises :class:`pgtrack.AlreadyCompleted` before the body runs (``force=True`` runs
  it again); a run another worker holds and heartbeats raises :class:`pgtrack.AlreadyRunning`
  (wallow silently took it over);
- ``handle.finalise(annotating)`` writes the annotating fields (``wallclock_seconds`` too when the
  runs table has that column) and marks the run COMPLETED; a body that returns without calling it is
  finalised with no fields; an exception raised after finalise() leaves the run COMPLETED;
- an exception marks the run FAILED with the type, message and traceback tail in ``runs.error``
  (KeyboardInterrupt and SIGTERM: CANCELLED) and is re-raised.

``heartbeat`` defaults to a third of ``stale_after`` (pass 0 to switch it off), so a long body keeps
its claim; every write passes the claimed attempt, so a worker that lost its claim gets LeaseLostError.
"""
from __future__ import annotations

import datetime as _dt
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Dict, Iterator, Mapping, Optional

from . import _statements as sql
from .errors import AlreadyCompleted, AlreadyRunning
from .registry import experiment_of
from .run import Run

if TYPE_CHECKING:
    from .experiment import Experiment


class LifecycleHandle:
    """What the body of run_lifecycle() gets: the claimed run and finalise()."""

    def __init__(self, experiment: "Experiment", identifying: Mapping[str, Any], run: Run):
        self.experiment, self.identifying, self.run = experiment, dict(identifying), run
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

    def finalise(self, annotating: Optional[Mapping[str, Any]] = None) -> None:
        """Write annotating fields and mark the run COMPLETED (idempotent: a second call does nothing)."""
        if self.finalised:
            return
        fields: Dict[str, Any] = dict(annotating or {})
        status = fields.pop("status", "COMPLETED")
        client = self.run.client
        if "wallclock_seconds" not in fields and client.repeat(sql.RUN_COLUMN_TYPE, ("wallclock_seconds",)):
            fields["wallclock_seconds"] = self.elapsed()
        self.run.heartbeat()  # proves the lease (LeaseLostError) right before writing
        if fields:
            self.experiment.register(self.identifying, fields, on_duplicate="overwrite")
        self.run.stop(status)
        self.finalised = True


@contextmanager
def run_lifecycle(experiment: "Experiment", identifying: Mapping[str, Any], annotating: Optional[Mapping[str, Any]] = None,
                  *, stale_after: _dt.timedelta = _dt.timedelta(minutes=10), force: bool = False,
                  heartbeat: Optional[float] = None) -> Iterator[LifecycleHandle]:
    """Claim, run and finalise one configuration (see the module docstring). ``experiment`` may be a Store."""
    experiment = experiment_of(experiment)
    result = experiment.register(identifying, annotating, on_duplicate="claim_if_stale", stale_after=stale_after)
    run = result.run
    assert run is not None  # claim_if_stale always names the run (None is for on_duplicate='skip')
    if result.was_skipped:
        if run.status != "COMPLETED":
            raise AlreadyRunning(run)
        if not force:
            raise AlreadyCompleted(run)
        run.set_status("PENDING")  # claimable at once; the claim below is still atomic among forced workers
        result = experiment.register(identifying, annotating, on_duplicate="claim_if_stale", stale_after=stale_after)
        if result.was_skipped:
            raise AlreadyRunning(result.run)
        run = result.run
        assert run is not None  # as above
    if heartbeat is None:
        heartbeat = stale_after.total_seconds() / 3
    handle = LifecycleHandle(experiment, identifying, run)
    with run.track(heartbeat=heartbeat or None):
        yield handle
        handle.finalise()
