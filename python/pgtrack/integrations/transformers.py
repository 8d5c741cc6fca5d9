"""Hugging Face Transformers: ``PgtrackCallback``, a ``TrainerCallback`` that logs to a pgtrack run.

    from pgtrack.integrations.transformers import PgtrackCallback

    trainer = Trainer(model=model, args=TrainingArguments(..., report_to=[]),
                      callbacks=[PgtrackCallback(experiment="glue", identifying={"lr": 2e-5})], ...)
    trainer.train()

- ``on_train_begin``: the run (a new one, or the registry's for ``identifying``, claimed; a
  configuration trained to the end before raises AlreadyCompleted unless ``rerun_completed``), with
  ``TrainingArguments`` as its args.
- ``on_log``: every numeric value Trainer logs (``loss``, ``learning_rate``, ``eval_loss``, ...) at
  ``state.global_step``, buffered.
- ``on_train_end``: COMPLETED, with ``best_model_checkpoint`` and ``best_metric`` in the args.
- An exception escaping ``trainer.train()`` ends the run FAILED with its traceback, Ctrl-C and
  SIGTERM CANCELLED (Trainer has no hook for them: pgtrack's exception and exit hooks do it).
- Only the main process (``state.is_world_process_zero``) writes.

``report_to="pgtrack"``: Transformers has no public registry for third-party reporters; call
``pgtrack.integrations.transformers.register()`` once and ``report_to=["pgtrack"]`` then adds this
callback (with ``PGTRACK_EXPERIMENT`` naming the experiment, default "transformers").

``pip install "pgtrack[transformers]"``.
"""
from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Mapping, Optional

from .._extras import require
from ._holder import RunHolder

_transformers = require("transformers", extra="transformers")
TrainerCallback: Any = _transformers.TrainerCallback  # Any: an optional package's class, a base class mypy takes as it is


class PgtrackCallback(TrainerCallback):
    def __init__(self, experiment: Any = None, identifying: Optional[Mapping[str, Any]] = None, client: Any = None,
                 stale_after: _dt.timedelta = _dt.timedelta(minutes=10), rerun_completed: bool = False,
                 heartbeat: Optional[float] = 15.0):
        experiment = experiment or os.environ.get("PGTRACK_EXPERIMENT", "transformers")
        self.holder = RunHolder(experiment, identifying, client, stale_after, rerun_completed, heartbeat)

    @property
    def run(self) -> Any:
        return self.holder.run

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.holder.open(args.to_dict() if hasattr(args, "to_dict") else args)

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            self.holder.log(state.global_step, logs)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not self.holder.is_open:
            return
        best = {"best_model_checkpoint": state.best_model_checkpoint, "best_metric": state.best_metric}
        best = {k: v for k, v in best.items() if v is not None}
        if best:
            self.holder.run.add_args(best)
        self.holder.close("COMPLETED")


def register() -> None:
    """Make ``report_to=["pgtrack"]`` add PgtrackCallback (Transformers' integration table)."""
    table = getattr(_transformers.integrations.integration_utils, "INTEGRATION_TO_CALLBACK", None)
    if table is None:
        raise RuntimeError("this Transformers version has no INTEGRATION_TO_CALLBACK table; pass callbacks=[PgtrackCallback(...)]")
    table["pgtrack"] = PgtrackCallback
