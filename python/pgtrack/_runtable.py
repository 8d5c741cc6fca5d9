"""One row per run of an experiment, with every value a reader wants beside it: the shared query of
``pgtrack.pandas.runs``, the dashboard's runs table and the report.

Columns: ``id``, ``status`` (``LOST`` for a live run whose worker went silent), each identifying field,
``args``, ``best <metric>`` and ``final <metric>`` for every numeric metric the experiment logged
(best is the minimum, or the maximum for metrics named like a score or listed in ``maximize``),
``duration`` (seconds), ``worker``, ``attempt``, ``error`` (its first line), ``started``, ``updated``.
One SQL statement: per run one scan of its metrics through the primary key.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from psycopg import sql as _sql

from ._sqlparts import ident
from ._statements import RUN_STATUS_JOIN

MAXIMISED = re.compile(r"acc|auc|f1|precision|recall|score|reward|iou|bleu|map", re.I)


def maximised(metric: str, maximize: Iterable[str] = ()) -> bool:
    return metric in set(maximize) or bool(MAXIMISED.search(metric))


def score(row: Dict[str, Any], metric: str) -> Optional[float]:
    """The row's ``best <metric>`` when it is a number that can win (not None, not NaN), else None."""
    value = row.get(f"best {metric}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
        return value
    return None


def best_run(rows: Iterable[Dict[str, Any]], metric: str, direction: str) -> Optional[int]:
    """The id of the best of ``rows`` by ``best <metric>``: the lowest, or the highest for direction
    "max"; a row without a score (score()) never wins; of equal scores the first row wins. The
    dashboard's highlight and the report's both come from here."""
    scored = [(value, row["id"]) for row in rows if (value := score(row, metric)) is not None]
    if not scored:
        return None
    pick = max if direction == "max" else min
    return pick(scored, key=lambda pair: pair[0])[1]


@dataclass
class RunTable:
    experiment_id: int
    fields: List[str]           # identifying fields, sorted
    metrics: List[str]          # numeric metrics the experiment logged, in column order
    directions: Dict[str, str]  # metric -> "min" | "max"
    columns: List[str]
    rows: List[Dict[str, Any]]


def numeric_metrics(client: Any) -> List[str]:
    return [r[0] for r in client.execute(
        "SELECT c.name FROM pgtrack.metric_columns() c JOIN pg_type t ON t.oid = c.type WHERE t.typcategory = 'N'")]


def run_table(client: Any, experiment_id: int, maximize: Sequence[str] = ()) -> RunTable:
    """The experiment's runs as a RunTable (``client`` may be a replica's)."""
    numeric = numeric_metrics(client)
    directions = {m: "max" if maximised(m, maximize) else "min" for m in numeric}
    # best: one scan of the run's rows for every metric at once; final: per metric one backward probe
    # of the primary key (run_id, step, progress), stopping at the first value
    best = [_sql.SQL("{best}({c}::float8) FILTER (WHERE {c}::float8 <> 'NaN') AS {alias}").format(
        best=_sql.SQL(directions[name]), c=_sql.SQL("m.{}").format(ident(name)), alias=_sql.Identifier(f"b{i}"))
        for i, name in enumerate(numeric)]
    final = [_sql.SQL("(SELECT f.{c}::float8 FROM pgtrack.metrics f "
                      "WHERE f.run_id = r.id AND f.experiment_id = r.experiment_id AND f.{c} IS NOT NULL "
                      "ORDER BY f.step DESC, f.progress DESC LIMIT 1)").format(c=ident(name)) for name in numeric]
    pairs = [_sql.SQL("agg.{}, {}").format(_sql.Identifier(f"b{i}"), final[i]) for i in range(len(numeric))]
    aggregates = _sql.SQL(", ").join(best) if best else _sql.SQL("NULL AS none")
    selected = _sql.SQL(", ").join(pairs) if pairs else _sql.SQL("NULL")
    query = _sql.SQL(
        "SELECT r.id, s.shown_status, r.identity, r.args, "
        "greatest(0, extract(epoch FROM coalesce(r.time_finished, CASE WHEN s.lost THEN s.last_seen ELSE clock_timestamp() END)"
        " - r.time_started)), r.worker, r.attempt, split_part(r.error, E'\\n', 1), r.time_started, s.last_seen, {selected} "
        "FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id " + RUN_STATUS_JOIN + " "
        "LEFT JOIN LATERAL (SELECT {aggregates} FROM pgtrack.metrics m "
        "WHERE m.run_id = r.id AND m.experiment_id = r.experiment_id) agg ON true "
        "WHERE r.experiment_id = %s ORDER BY r.id").format(aggregates=aggregates, selected=selected)
    raw = client.execute(query, (experiment_id,))
    fields = sorted({k for row in raw for k in (row[2] or {})})
    metric_columns = [f"{kind} {name}" for name in numeric for kind in ("best", "final")]
    rows = []
    for row in raw:
        identity = row[2] or {}
        record: Dict[str, Any] = {"id": row[0], "status": row[1], **{f: identity.get(f) for f in fields}, "args": row[3]}
        record.update(zip(metric_columns, row[10:10 + len(metric_columns)]))
        record.update(duration=float(row[4]) if row[4] is not None else None, worker=row[5], attempt=row[6],
                      error=row[7] or None, started=row[8], updated=row[9])
        rows.append(record)
    logged = [m for m in numeric if any(r.get(f"final {m}") is not None for r in rows)]
    metric_columns = [f"{kind} {name}" for name in logged for kind in ("best", "final")]
    for record in rows:  # drop the metrics this experiment never logged
        for name in numeric:
            if name not in logged:
                record.pop(f"best {name}", None)
                record.pop(f"final {name}", None)
    columns = ["id", "status", *fields, "args", *metric_columns, "duration", "worker", "attempt", "error", "started", "updated"]
    return RunTable(experiment_id, fields, logged, {m: directions[m] for m in logged}, columns, rows)
