"""What every integration does with its run: get or claim it, hold it inside ``run.track()`` (buffered
metrics, heartbeat, SIGTERM), and end it with the right status even when the framework gives no
hook for the failure (an exception escaping ``fit()``, SIGTERM, Ctrl-C): an exception hook and an exit
hook end a run that is still open, FAILED with the traceback or CANCELLED.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import math
import sys
from typing import Any, Dict, Mapping, Optional

from .. import _notices
from .._metric_names import storable_name
from ..errors import AlreadyCompleted, AlreadyRunning
from ..tracking import Terminated


def plain_params(params: Any) -> Dict[str, Any]:
    """Hyperparameters as a JSON-safe dict: mappings and Namespaces flattened one level deep, other
    values kept when they are numbers, strings, booleans, None or lists of them, else their str()."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        params = vars(params) if hasattr(params, "__dict__") else {"value": params}
    out: Dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            for inner, v in value.items():
                out[f"{key}/{inner}"] = _plain_value(v)
        else:
            out[str(key)] = _plain_value(value)
    return out


def _plain_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return _plain_value(value.item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    return str(value)


def numeric(values: Mapping[str, Any]) -> Dict[str, float]:
    """The numeric entries of a framework's metric dict (tensors and numpy scalars included)."""
    out = {}
    for key, value in values.items():
        if hasattr(value, "item") and callable(value.item):
            try:
                value = value.item()
            except (TypeError, ValueError):
                continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[str(key)] = float(value)
    return out


class RunHolder:
    """One integration's run. ``open()`` gets it: a new run, or (with ``identifying``) the registry's
    run for that configuration, claimed unless a live worker holds it (AlreadyRunning) or it is
    COMPLETED (AlreadyCompleted, unless ``rerun_completed``)."""

    def __init__(self, experiment: Any, identifying: Optional[Mapping[str, Any]] = None, client: Any = None,
                 stale_after: _dt.timedelta = _dt.timedelta(minutes=10), rerun_completed: bool = False,
                 heartbeat: Optional[float] = 15.0):
        self.experiment_ref, self.identifying, self.client = experiment, identifying, client
        self.stale_after, self.rerun_completed, self.heartbeat = stale_after, rerun_completed, heartbeat
        self.run: Any = None
        self._tracking: Any = None
        self._previous_hook: Any = None
        self._terminated = False
        self._guard_handler: Any = None
        self._mapped: set = set()  # reserved metric names already warned about (log)

    @property
    def experiment(self) -> Any:
        from ..client import Client
        from ..experiment import Experiment

        if not isinstance(self.experiment_ref, Experiment):
            self.experiment_ref = Experiment(self.client or Client(), name=str(self.experiment_ref))
        return self.experiment_ref

    def claim(self) -> Any:
        """The run, without opening it (so a caller can look at its status first)."""
        if self.run is not None:
            return self.run
        experiment = self.experiment
        if not self.identifying:
            self.run = experiment.get_run()
            return self.run
        from ..sweep import declare_missing

        declare_missing(experiment, [dict(self.identifying)])
        result = experiment.register(self.identifying, on_duplicate="claim_if_stale", stale_after=self.stale_after)
        run = result.run
        if result.was_skipped:
            if run.status != "COMPLETED":
                raise AlreadyRunning(run)
            if not self.rerun_completed:
                raise AlreadyCompleted(run)
            run.set_status("PENDING")
            result = experiment.register(self.identifying, on_duplicate="claim_if_stale", stale_after=self.stale_after)
            if result.was_skipped:
                raise AlreadyRunning(result.run)
            run = result.run
        self.run = run
        return run

    def open(self, args: Any = None) -> Any:
        if self._tracking is not None:
            return self.run
        run = self.claim()
        if args:
            run.add_args(plain_params(args))
        self._tracking = run.track(heartbeat=self.heartbeat)
        self._tracking.__enter__()
        self._watch_sigterm()
        self._previous_hook = sys.excepthook
        sys.excepthook = self._excepthook
        atexit.register(self._at_exit)
        return run

    @property
    def is_open(self) -> bool:
        return self._tracking is not None

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Log a framework's metric dict. A name no column can have (``step``, ``run_id``, ``xmin``, ...)
        is stored as ``<name>_`` with one warning per name, so fit() never stops for a name."""
        values = {}
        for name, value in numeric(metrics).items():
            stored = storable_name(name)
            if stored != name and name not in self._mapped:
                self._mapped.add(name)
                _notices.warn(f"pgtrack: metric {name!r} is stored as {stored!r} ({name!r} is one of the metrics "
                              "table's own or PostgreSQL's system column names)", stacklevel=3)
            values[stored] = value
        if values:
            self.open().add_metrics(step=int(step or 0), **values)

    def close(self, status: str = "COMPLETED", error: Optional[BaseException] = None) -> None:
        """End the run: COMPLETED, or the status of ``error`` as track() maps it."""
        tracking, self._tracking = self._tracking, None
        if tracking is None:
            return
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hook
        atexit.unregister(self._at_exit)
        self._unwatch_sigterm()
        if status != "COMPLETED" and error is None:
            tracking.statuses["normal"] = status
        tracking.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)

    def _excepthook(self, kind: Any, value: BaseException, tb: Any) -> None:
        self.close(error=value)  # FAILED with the traceback (CANCELLED for KeyboardInterrupt)
        (self._previous_hook or sys.__excepthook__)(kind, value, tb)

    def _at_exit(self) -> None:
        """Still open at interpreter exit: the framework's end hook never ran. SIGTERM (track()'s
        handler raised Terminated, which escaped as SystemExit) is CANCELLED; anything else FAILED,
        since training did not reach its end."""
        if self._terminated:
            self.close(error=Terminated())
        else:
            self.close(error=RuntimeError("the process exited before training ended (no end-of-training hook ran)"))

    def _watch_sigterm(self) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        self._guard_handler = signal.getsignal(signal.SIGTERM)
        if not callable(self._guard_handler):
            self._guard_handler = None
            return

        def handler(signum: int, frame: Any) -> None:
            self._terminated = True
            self._guard_handler(signum, frame)

        signal.signal(signal.SIGTERM, handler)

    def _unwatch_sigterm(self) -> None:
        import signal

        if self._guard_handler is not None:
            signal.signal(signal.SIGTERM, self._guard_handler)
            self._guard_handler = None
