"""Keras 3: ``PgtrackCallback``, a ``keras.callbacks.Callback`` that logs to a pgtrack run.

    from pgtrack.integrations.keras import PgtrackCallback

    model.fit(x, y, epochs=10, callbacks=[PgtrackCallback(experiment="keras", identifying={"lr": 1e-3})])

- ``on_train_begin``: the run (new, or the registry's for ``identifying``, claimed; AlreadyCompleted
  for a configuration trained to the end before, unless ``rerun_completed``), with the compiled
  configuration as its args: the optimizer's config (``optimizer/learning_rate``, ...), the loss,
  the metrics, and ``fit``'s params (epochs, steps).
- ``on_epoch_end``: the epoch's logs at step = epoch; with ``batch_every=n`` also every n-th batch's
  logs, under ``batch/<name>``, at step = the global batch number.
- ``on_train_end``: COMPLETED; an exception escaping ``fit`` FAILED with its traceback, Ctrl-C and
  SIGTERM CANCELLED (pgtrack's exception and exit hooks; Keras has no hook for them).

Works with every Keras backend; tested with torch. ``pip install "pgtrack[keras]"``.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping, Optional

from .._extras import require
from ._holder import RunHolder

_keras = require("keras", extra="keras")
_Callback: Any = _keras.callbacks.Callback  # Any: an optional package's class, a base class mypy takes as it is


class PgtrackCallback(_Callback):
    def __init__(self, experiment: Any, identifying: Optional[Mapping[str, Any]] = None, client: Any = None,
                 stale_after: _dt.timedelta = _dt.timedelta(minutes=10), rerun_completed: bool = False,
                 heartbeat: Optional[float] = 15.0, batch_every: int = 0):
        super().__init__()
        self.holder = RunHolder(experiment, identifying, client, stale_after, rerun_completed, heartbeat)
        self.batch_every = batch_every
        self._epoch = 0
        self._batches = 0

    @property
    def run(self) -> Any:
        return self.holder.run

    def _config(self) -> dict:
        model = self.model
        config: dict = {"fit": dict(self.params or {})}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            config["optimizer"] = {"name": type(optimizer).__name__, **optimizer.get_config()}
        for name in ("loss",):
            value = getattr(model, name, None)
            if value is not None:
                config[name] = getattr(value, "__name__", None) or str(value)
        try:
            compiled = model.get_compile_config() or {}
            if compiled.get("metrics"):
                config["metrics"] = str(compiled["metrics"])
        except Exception:  # a model compiled with objects Keras cannot serialise
            pass
        return config

    def on_train_begin(self, logs: Optional[Mapping[str, Any]] = None) -> None:
        self.holder.open(self._config())

    def on_epoch_begin(self, epoch: int, logs: Optional[Mapping[str, Any]] = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Optional[Mapping[str, Any]] = None) -> None:
        self._batches += 1
        if self.batch_every and logs and self._batches % self.batch_every == 0:
            self.holder.log(self._batches, {f"batch/{k}": v for k, v in logs.items()})

    def on_epoch_end(self, epoch: int, logs: Optional[Mapping[str, Any]] = None) -> None:
        if logs:
            self.holder.log(epoch, logs)

    def on_train_end(self, logs: Optional[Mapping[str, Any]] = None) -> None:
        self.holder.close("COMPLETED")
