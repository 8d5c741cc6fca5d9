"""wallow's ``Store``, for code written against wallow: a thin wrapper of one Experiment.

    store = pgtrack.Store(pgtrack.load_schema("wallow.toml", client))
    result = pgtrack.register(store, {"lr": 0.1}, on_duplicate="return_existing")
    pgtrack.heartbeat(store, identifying={"lr": 0.1})
    store.where(F("status") == "completed").all()
    store.find_by_uuid(run.uuid); store.artefacts_dir(run, "checkpoints")

``register``, ``find``, ``heartbeat`` and ``run_lifecycle`` take a Store wherever they take an
Experiment. ``store.experiment`` is pgtrack's own object, ``store.client`` its Client.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .experiment import Experiment
from .registry import experiment_of  # noqa: F401  (pgtrack.store.experiment_of, as before)
from .run import Run


class Store:
    def __init__(self, experiment: Experiment):
        if not isinstance(experiment, Experiment):
            raise TypeError("Store wraps a pgtrack.Experiment (e.g. what pgtrack.load_schema returns)")
        self.experiment = experiment
        self.client = experiment.client

    def __repr__(self) -> str:
        return f"<pgtrack.Store of {self.experiment!r}>"

    @property
    def f(self) -> Any:
        return self.experiment.f

    def where(self, *exprs: Any) -> Any:
        return self.experiment.where(*exprs)

    def find_by_uuid(self, uuid: str) -> Optional[Run]:
        """The experiment's run with this uuid, or None (an invalid uuid is None too, as in wallow)."""
        run_id = self.client.value("SELECT id FROM pgtrack.runs WHERE experiment_id = %s AND uuid::text = %s",
                                   (self.experiment.id, str(uuid)))
        return None if run_id is None else Run._bind(self.client, run_id, self.experiment.id, experiment=self.experiment)

    def artefacts_dir(self, run: Run, *parts: Any, mkdir: bool = False) -> Path:
        """``root / layout / *parts`` from the schema's artefacts_root and artefacts_layout (see
        Run.artefacts_dir). pgtrack returns it resolved (absolute); wallow returned it relative to
        the root as configured."""
        if run.experiment is None:
            run.experiment = self.experiment
        return run.artefacts_dir(None, None, *parts, mkdir=mkdir)
