"""SQLTrack's module-level functions, ``fn(client, id, ...)``: ``import pgtrack as sqltrack`` and
``sqltrack.run_add_metrics(client, run_id, step=1, loss=0.5)`` work as SQLTrack documents them. Both
generations of the link names: the docs' ``*_add_relationship``/``*_remove_relationship`` and the
0.1.4 release's ``*_add_link``/``*_remove_link`` (the same functions). Each
binds the experiment or run without a database call and makes the one call its method makes."""
from __future__ import annotations

from typing import Any

from .experiment import Experiment
from .run import AUTO, Run


def _run(client: Any, run_id: int) -> Run:
    return Run._bind(client, run_id)


def _experiment(client: Any, experiment_id: int) -> Experiment:
    return Experiment._bind(client, experiment_id)


# -- experiments ------------------------------------------------------------------------------------

def experiment_set_name(client: Any, experiment_id: int, name: str) -> None:
    _experiment(client, experiment_id).set_name(name)


def experiment_set_comment(client: Any, experiment_id: int, comment: Any) -> None:
    _experiment(client, experiment_id).set_comment(comment)


def experiment_set_tags(client: Any, experiment_id: int, *tags: str) -> None:
    _experiment(client, experiment_id).set_tags(*tags)


def experiment_add_tags(client: Any, experiment_id: int, *tags: str) -> None:
    _experiment(client, experiment_id).add_tags(*tags)


def experiment_remove_tags(client: Any, experiment_id: int, *tags: str) -> None:
    _experiment(client, experiment_id).remove_tags(*tags)


def experiment_add_relationship(client: Any, from_id: int, kind: str, to_id: int) -> None:
    _experiment(client, from_id).add_relationship(kind, to_id)


def experiment_remove_relationship(client: Any, from_id: int, kind: str, to_id: int) -> None:
    _experiment(client, from_id).remove_relationship(kind, to_id)


# SQLTrack 0.1.4's names for the two above (its docs say relationship, its release says link)
experiment_add_link = experiment_add_relationship
experiment_remove_link = experiment_remove_relationship


# -- runs -------------------------------------------------------------------------------------------

def run_add_metrics(client: Any, run_id: int, step: int = 0, progress: float = 0.0, **metrics: Any) -> None:
    """One row at (step, progress), written at once (a name without a column gets one when allowed)."""
    _run(client, run_id).add_metrics(step, progress, **metrics)


def run_set_status(client: Any, run_id: int, status: Any) -> None:
    _run(client, run_id).set_status(status)


def run_set_comment(client: Any, run_id: int, comment: Any) -> None:
    _run(client, run_id).set_comment(comment)


def run_set_created(client: Any, run_id: int, dt: Any = AUTO) -> None:
    _run(client, run_id).set_created(dt)


def run_set_started(client: Any, run_id: int, dt: Any = AUTO) -> None:
    _run(client, run_id).set_started(dt)


def run_set_updated(client: Any, run_id: int, dt: Any = AUTO) -> None:
    _run(client, run_id).set_updated(dt)


def run_set_tags(client: Any, run_id: int, *tags: str) -> None:
    _run(client, run_id).set_tags(*tags)


def run_add_tags(client: Any, run_id: int, *tags: str) -> None:
    _run(client, run_id).add_tags(*tags)


def run_remove_tags(client: Any, run_id: int, *tags: str) -> None:
    _run(client, run_id).remove_tags(*tags)


def run_set_args(client: Any, run_id: int, args: Any = AUTO) -> None:
    _run(client, run_id).set_args(args)


def run_add_args(client: Any, run_id: int, args: Any = AUTO) -> None:
    _run(client, run_id).add_args(args)


def run_remove_args(client: Any, run_id: int, *args: str) -> None:
    _run(client, run_id).remove_args(*args)


def run_set_env(client: Any, run_id: int, env: Any = AUTO) -> None:
    _run(client, run_id).set_env(env)


def run_add_env(client: Any, run_id: int, env: Any = AUTO) -> None:
    _run(client, run_id).add_env(env)


def run_remove_env(client: Any, run_id: int, *env: str) -> None:
    _run(client, run_id).remove_env(*env)


def run_add_relationship(client: Any, from_id: int, kind: str, to_id: int) -> None:
    _run(client, from_id).add_relationship(kind, to_id)


def run_remove_relationship(client: Any, from_id: int, kind: str, to_id: int) -> None:
    _run(client, from_id).remove_relationship(kind, to_id)


run_add_link = run_add_relationship  # SQLTrack 0.1.4's names
run_remove_link = run_remove_relationship


__all__ = [name for name in dir() if name.startswith(("experiment_", "run_")) and not name.startswith("_")]
