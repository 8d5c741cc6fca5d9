"""PyTorch Lightning: ``PgtrackLogger``, a Lightning ``Logger`` that logs to a pgtrack run.

    from pgtrack.integrations.lightning import PgtrackLogger

    logger = PgtrackLogger(experiment="mnist", identifying={"lr": 0.01, "seed": 0})
    if logger.completed:           # this configuration was trained to the end before
        return
    trainer = lightning.Trainer(logger=logger, max_epochs=10)
    trainer.fit(model, data)

- ``identifying`` registers the configuration through the registry (claim_if_stale): a rerun of the
  same configuration resumes its run (attempt 2, ...) or, when it COMPLETED, ``logger.completed`` is
  True and nothing is claimed (``rerun_completed=True`` trains it again). Without ``identifying``
  every Trainer gets a new run.
- ``log_hyperparams`` stores the hyperparameters as the run's args; ``log_metrics`` buffers rows at
  Lightning's step, under the names Lightning gives (``train/loss``, ``val/acc``, ``lr-AdamW``),
  creating their columns on first use; ``finalize("success")`` ends the run COMPLETED, "failed"
  FAILED, anything else CANCELLED; SIGTERM CANCELLED; checkpoint paths (best and last) are recorded
  in the run's args (``checkpoint_best``, ``checkpoint_last``).
- In DDP only global rank 0 writes (``rank_zero_only``).

``pip install "pgtrack[lightning]"``.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Mapping, Optional

from .._extras import require
from ..errors import AlreadyCompleted, AlreadyRunning
from ._holder import RunHolder

_lightning = require("lightning.pytorch", extra="lightning")
Logger: Any = _lightning.loggers.logger.Logger  # Any: an optional package's class, a base class mypy takes as it is
rank_zero_only = _lightning.utilities.rank_zero_only

_STATUS = {"success": "COMPLETED", "finished": "COMPLETED", "failed": "FAILED"}


class PgtrackLogger(Logger):
    def __init__(self, experiment: Any, identifying: Optional[Mapping[str, Any]] = None, client: Any = None,
                 stale_after: _dt.timedelta = _dt.timedelta(minutes=10), rerun_completed: bool = False,
                 heartbeat: Optional[float] = 15.0):
        super().__init__()
        self._holder = RunHolder(experiment, identifying, client, stale_after, rerun_completed, heartbeat)
        self._completed: Optional[bool] = None

    # -- what Lightning asks of a logger -----------------------------------------------------------

    @property
    def name(self) -> str:
        return str(getattr(self._holder.experiment, "name", "pgtrack"))

    @property
    def version(self) -> Any:
        return self.run.id if self.run is not None else None

    @property
    def experiment(self) -> Any:
        """The pgtrack Run (Lightning calls its logger's backing object "experiment")."""
        return self.run

    @property
    def completed(self) -> bool:
        """True when ``identifying`` names a configuration that was trained to the end before (nothing
        is claimed then, and the Trainer should not run)."""
        if self._completed is None:
            try:
                self._holder.claim()
                self._completed = False
            except AlreadyRunning:  # a kind of AlreadyCompleted, but not completed: the caller hears of it
                raise
            except AlreadyCompleted:
                self._completed = True
        return self._completed

    @property
    def run(self) -> Any:
        if self._holder.run is None and rank_zero_only.rank == 0 and not self.completed:
            self._holder.claim()
        return self._holder.run

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        self._holder.open(params)

    @rank_zero_only
    def log_metrics(self, metrics: Dict[str, float], step: Optional[int] = None) -> None:
        self._holder.log(step or 0, metrics)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        paths = {"checkpoint_best": getattr(checkpoint_callback, "best_model_path", None),
                 "checkpoint_last": getattr(checkpoint_callback, "last_model_path", None)}
        paths = {k: str(v) for k, v in paths.items() if v}
        if paths:
            self._holder.open().add_args(paths)

    @rank_zero_only
    def save(self) -> None:
        if self._holder.is_open:
            self._holder.run.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        import sys

        if not self._holder.is_open:
            if self._holder.run is None or status != "success":
                return
            self._holder.open()  # a fit that logged nothing still completed
        error = sys.exc_info()[1] if status == "failed" else None  # Lightning finalizes inside its except
        if error is not None:
            self._holder.close(error=error)  # FAILED with the traceback; CANCELLED for Ctrl-C and SIGTERM
        else:
            self._holder.close(_STATUS.get(status, "CANCELLED"))
