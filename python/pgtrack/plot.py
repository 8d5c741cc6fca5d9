"""One-call plots of metric curves (matplotlib; ``pip install "pgtrack[analysis]"``).

``curves(client, runs, metric)`` returns a matplotlib Figure with one line per run, from
``pgtrack.metric_curves`` (downsampled in SQL to ``buckets`` points per run). It builds the Figure
directly, without pyplot's global state, so it works in scripts, servers and notebooks alike.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ._extras import require
from .client import for_reading

LEGEND_MAX = 12


def curve_points(client: Any, runs: Iterable[Any], metric: str, buckets: int = 200) -> Dict[int, Tuple[List[int], List[float]]]:
    """{run id: (steps, values)} for the runs (Run objects or ids), downsampled in SQL."""
    ids = [getattr(r, "id", r) for r in runs]
    if not ids:
        return {}
    client = for_reading(client)  # the read replica, when the Client has one
    by_experiment: Dict[int, List[int]] = defaultdict(list)
    for run_id, experiment_id in client.execute("SELECT id, experiment_id FROM pgtrack.runs WHERE id = ANY (%s)", (ids,)):
        by_experiment[experiment_id].append(run_id)
    points: Dict[int, Tuple[List[int], List[float]]] = {}
    for experiment_id, run_ids in by_experiment.items():
        for run_id, step, value in client.execute("SELECT run_id, step, value FROM pgtrack.metric_curves(%s, %s, %s, %s)",
                                                  (experiment_id, metric, buckets, run_ids)):
            steps, values = points.setdefault(run_id, ([], []))
            steps.append(step)
            values.append(value)
    return {run_id: points[run_id] for run_id in ids if run_id in points}


def draw_curves(ax: Any, points: Dict[int, Tuple[List[int], List[float]]], metric: str,
                labels: Optional[Dict[int, str]] = None) -> None:
    many = len(points) > LEGEND_MAX
    for run_id, (steps, values) in points.items():
        ax.plot(steps, values, linewidth=0.8 if many else 1.4, alpha=0.5 if many else 0.9,
                label=(labels or {}).get(run_id, f"run {run_id}"))
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    if points and not many:
        ax.legend(fontsize="small")


def curves(client: Any, runs: Iterable[Any], metric: str, buckets: int = 200, labels: Optional[Dict[int, str]] = None) -> Any:
    """A matplotlib Figure with the metric's curve for each run. Labels are plain text ($ is a dollar
    sign, never mathtext)."""
    matplotlib = require("matplotlib")
    figure_module = require("matplotlib.figure")
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = figure_module.Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
        draw_curves(ax, curve_points(client, runs, metric, buckets), metric, labels)
        ax.set_title(metric)
    return fig
