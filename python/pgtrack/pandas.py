"""SQL to pandas: ``query_dataframe(cursor_or_client, query, params)`` (SQLTrack's helper), and
DataFrames of pgtrack's analysis functions. Needs pandas: ``pip install "pgtrack[analysis]"``."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ._extras import require
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


def best_runs(client: Any, experiment_id: int, metric: str, direction: str = "min") -> Any:
    """pgtrack.best_runs() as a DataFrame, identifying values as columns of their own."""
    pd = require("pandas")
    frame = query_dataframe(client, "SELECT * FROM pgtrack.best_runs(%s, %s, %s)", (experiment_id, metric, direction))
    identity = pd.json_normalize(list(frame.pop("identity").fillna({}))) if len(frame) else pd.DataFrame()
    return pd.concat([frame.iloc[:, :2], identity, frame.iloc[:, 2:]], axis=1)
