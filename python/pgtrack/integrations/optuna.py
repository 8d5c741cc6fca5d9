"""Optuna: pgtrack as the run registry of a study.

    import optuna
    from pgtrack.integrations.optuna import optimize

    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
             "layers": optuna.distributions.IntDistribution(1, 4),
             "act": optuna.distributions.CategoricalDistribution(["relu", "tanh"])}

    def objective(trial, run):              # trial.params holds the configuration
        for epoch in range(20):
            loss = ...
            trial.report(loss, epoch)       # also logged to the run as "optuna/intermediate"
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = optuna.create_study(study_name="mlp", storage=None)
    optimize(study, objective, space, n_trials=30)

Each trial is asked with the search space (``study.ask(space)``), so its parameters are known before
any training: they are the run's identifying values in the experiment ``optuna:<study name>`` (or
``experiment=``). Then:

- a configuration pgtrack already COMPLETED for this experiment is not trained again: the trial is
  told the stored objective value (Optuna's own RDBStorage records trials, but never recognises a
  configuration it has seen; pgtrack does, with its float normalisation);
- a configuration another live process holds is waited for (then answered from its result), or
  claimed once its holder went silent for ``stale_after``;
- otherwise it is claimed, ``objective(trial, run)`` runs inside ``run.track()``; intermediate values
  (``trial.report``) are logged as the metric ``optuna/intermediate`` at their step, the result as
  ``optuna/value``; a pruned trial's run ends CANCELLED ("pruned at step N"), a failed one FAILED.

Several processes optimising one study (a shared Optuna storage) share the work through pgtrack's
claims: no configuration is trained twice. ``pip install "pgtrack[optuna]"``.
"""
from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Callable, Dict, Mapping, Optional

from .._extras import require

optuna = require("optuna", extra="optuna")

VALUE = "optuna/value"
INTERMEDIATE = "optuna/intermediate"


def _field_type(distribution: Any) -> str:
    from ..errors import SchemaValidationError
    from ..sweep import field_type

    D = optuna.distributions
    if isinstance(distribution, D.FloatDistribution):
        return "float"
    if isinstance(distribution, D.IntDistribution):
        return "int"
    try:
        return field_type(list(distribution.choices))
    except SchemaValidationError:  # mixed choices: stored as their text
        return "string"


def _identifying(params: Mapping[str, Any], types: Mapping[str, str]) -> Dict[str, Any]:
    return {k: (str(v) if types[k] == "string" else float(v) if types[k] == "float" else v) for k, v in params.items()}


def _stored_value(run: Any) -> Optional[float]:
    return run.client.value(f'SELECT "{VALUE}" FROM pgtrack.metrics WHERE run_id = %s AND "{VALUE}" IS NOT NULL '
                            "ORDER BY step DESC LIMIT 1", (run.id,))


def optimize(study: Any, objective: Callable[[Any, Any], float], search_space: Mapping[str, Any], n_trials: int,
             experiment: Any = None, client: Any = None, stale_after: _dt.timedelta = _dt.timedelta(minutes=10),
             heartbeat: Optional[float] = 15.0) -> Dict[str, int]:
    """Run ``n_trials`` trials of ``study`` (see the module docstring); returns counts of what
    happened: trained, answered from pgtrack, pruned, failed."""
    from ..client import Client
    from ..experiment import Experiment

    if not isinstance(experiment, Experiment):
        experiment = Experiment(client or Client(), name=str(experiment or f"optuna:{study.study_name}"))
    types = {name: _field_type(d) for name, d in search_space.items()}
    declared = {f.name: f.type for f in experiment.identifying_fields()}
    for name, kind in types.items():
        if name not in declared:
            experiment.declare_identifying(name, kind)
    counts = {"trained": 0, "answered": 0, "pruned": 0, "failed": 0}
    for _ in range(n_trials):
        trial = study.ask(dict(search_space))
        identity = _identifying(trial.params, types)
        run = _claim_or_answer(experiment, identity, stale_after)
        if not hasattr(run, "track"):  # a stored value: the configuration was trained before
            study.tell(trial, run)
            counts["answered"] += 1
            continue
        outcome = _train(study, trial, run, objective, heartbeat)
        counts[outcome] += 1
    return counts


def _claim_or_answer(experiment: Any, identity: Dict[str, Any], stale_after: _dt.timedelta) -> Any:
    """The claimed Run, or the stored value of a completed one (waiting while a live worker holds it)."""
    pause = max(0.2, min(5.0, stale_after.total_seconds() / 10))
    while True:
        result = experiment.register(identity, on_duplicate="claim_if_stale", stale_after=stale_after)
        if not result.was_skipped:
            return result.run
        run = result.run
        if run.status == "COMPLETED":
            value = _stored_value(run)
            if value is not None:
                return value
            run.set_status("PENDING")  # completed outside optimize(), with no value: train it
            continue
        time.sleep(pause)  # another process trains it: wait for its value (or for it to go stale)


def _train(study: Any, trial: Any, run: Any, objective: Callable[[Any, Any], float], heartbeat: Optional[float]) -> str:
    report = trial.report
    last = [0]  # the last step reported (Optuna's Trial does not say)

    def report_and_log(value: float, step: int) -> None:
        report(value, step)
        last[0] = int(step)
        run.add_metrics(step=int(step), **{INTERMEDIATE: float(value)})

    trial.report = report_and_log
    try:
        with run.track(heartbeat=heartbeat, interrupt="CANCELLED"):
            try:
                value = objective(trial, run)
            except optuna.TrialPruned:
                run.stop("CANCELLED", error=f"pruned at step {last[0]}")
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                return "pruned"
            run.add_metrics(step=last[0], **{VALUE: float(value)})
    except Exception:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return "failed"
    study.tell(trial, float(value))
    return "trained"
