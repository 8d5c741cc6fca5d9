"""SQL to pandas: ``query_dataframe(cursor_or_client, query, params)`` (SQLTrack's helper), and
DataFrames of an experiment: ``runs`` (one row per run), ``history`` (long-format curves),
``best_runs``. Every helper takes the experiment as an Experiment, a name or an id. Needs pandas:
``pip install "pgtrack[analysis]"``."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Tuple

from psycopg import sql as _sql

from ._extras import require
from ._sqlparts import ident, literal
from .client import for_reading


def query_dataframe(cursor_or_client: Any, query: Any, params: Optional[Sequence[Any]] = ()) -> Any:
    """Run a query and return its result as a DataFrame with the query's column names. Accepts a
    psycopg cursor or connection, or a pgtrack.Client (which may send it to its read replica)."""
    pd = require("pandas")
    if hasattr(cursor_or_client, "fetchall"):
        cursor = cursor_or_client
    elif hasattr(cursor_or_client, "cursor") and not hasattr(cursor_or_client, "conninfo"):
        cursor = cursor_or_client.cursor()  # a psycopg connection
    else:
        cursor = None
    if cursor is not None:
        cursor.execute(query, params or None)
        columns = [c.name for c in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)
    columns, rows = for_reading(cursor_or_client).execute_with_columns(query, params or None)
    return pd.DataFrame(rows, columns=columns)


def _client_and_experiment(first: Any, second: Any) -> Tuple[Any, int]:
    """(client, experiment id) from (Experiment) or (client, Experiment | name | id)."""
    from .experiment import Experiment, experiment_id

    if isinstance(first, Experiment):
        return first.client, first.id
    if second is None:
        raise TypeError("pass an Experiment, or a client and an experiment (name, id or Experiment)")
    return first, experiment_id(first, second)


def best_runs(client: Any, experiment: Any, metric: str, direction: str = "min") -> Any:
    """pgtrack.best_runs() as a DataFrame, identifying values as columns of their own. ``experiment``
    is an Experiment, a name or an id."""
    pd = require("pandas")
    client, exp_id = _client_and_experiment(client, experiment)
    frame = query_dataframe(client, "SELECT * FROM pgtrack.best_runs(%s, %s, %s)", (exp_id, metric, direction))
    identity = pd.json_normalize(list(frame.pop("identity").fillna({}))) if len(frame) else pd.DataFrame()
    return pd.concat([frame.iloc[:, :2], identity, frame.iloc[:, 2:]], axis=1)


def runs(experiment: Any, client: Any = None, maximize: Iterable[str] = ()) -> Any:
    """One row per run of the experiment: ``id``, ``status`` (``LOST`` for a live run whose worker went
    silent), each identifying value as a column, ``args`` (a dict), ``best <metric>`` and ``final
    <metric>`` for every numeric metric the experiment logged, ``duration`` (a Timedelta), ``worker``,
    ``attempt``, ``error`` (its first line). Best is the minimum, or the maximum for metrics named in
    ``maximize`` or named like a score (acc, auc, f1, precision, recall, score, reward, iou, bleu, map).

    ``runs(experiment)`` with an Experiment, or ``runs(name_or_id, client)``; both orders work."""
    from ._runtable import run_table

    pd = require("pandas")
    if client is not None and not hasattr(experiment, "client") and hasattr(experiment, "execute"):
        experiment, client = client, experiment  # runs(client, experiment)
    client, exp_id = _client_and_experiment(client if client is not None else experiment,
                                            experiment if client is not None else None)
    table = run_table(for_reading(client), exp_id, tuple(maximize))  # read once per metric: a generator would run dry
    columns = [c for c in table.columns if c not in ("started", "updated")]
    frame = pd.DataFrame.from_records([{c: r[c] for c in columns} for r in table.rows], columns=columns)
    frame["duration"] = pd.to_timedelta(frame["duration"], unit="s")
    return frame


def history(runs: Any, metrics: Any = None, client: Any = None) -> Any:
    """The logged values in long format: columns ``run_id``, ``step``, ``progress``, ``metric``,
    ``value`` (float), one row per non-null value, ordered by run, step, progress. ``runs``: Run objects,
    run ids, or a DataFrame with an ``id`` column (``runs(...)``'s); ``metrics``: a name or a list
    (default: every numeric metric). Ids need ``client=``; Run objects carry theirs."""
    pd = require("pandas")
    if hasattr(runs, "columns") and "id" in getattr(runs, "columns", ()):
        runs = list(runs["id"])
    runs = [runs] if isinstance(runs, int) or hasattr(runs, "add_metrics") else list(runs)
    if client is None:
        client = next((r.client for r in runs if hasattr(r, "client")), None)
    if client is None:
        raise TypeError("history() of run ids needs client=...")
    ids = [int(getattr(r, "id", r)) for r in runs]
    reader = for_reading(client)
    if metrics is None:
        from ._runtable import numeric_metrics

        metrics = numeric_metrics(reader)
    elif isinstance(metrics, str):
        metrics = [metrics]
    known = client.metric_names(refresh_unless=metrics)
    missing = [m for m in metrics if m not in known]
    if missing:
        from ._suggest import suggest
        from .errors import SchemaValidationError

        raise SchemaValidationError(f"unknown metric {missing[0]!r}", hint=suggest(missing[0], known, "known: " + ", ".join(sorted(known))))
    columns = ["run_id", "step", "progress", "metric", "value"]
    if not metrics or not ids:
        return pd.DataFrame(columns=columns)
    pairs = _sql.SQL(", ").join(_sql.SQL("({}, m.{}::float8)").format(literal(m), ident(m)) for m in metrics)
    query = _sql.SQL("SELECT m.run_id, m.step, m.progress, v.metric, v.value FROM pgtrack.metrics m "
                     "CROSS JOIN LATERAL (VALUES {pairs}) v(metric, value) "
                     "WHERE m.run_id = ANY (%s) AND v.value IS NOT NULL "
                     "ORDER BY m.run_id, m.step, m.progress, v.metric").format(pairs=pairs)
    return pd.DataFrame(reader.execute(query, (ids,)), columns=columns)
