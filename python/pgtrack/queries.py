"""SQLTrack's query helpers: the first row, the first value, the first value of each row.

Each takes a psycopg cursor or a pgtrack.Client, a query and its parameters.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence


def _rows(cursor_or_client: Any, query: Any, parameters: Optional[Sequence[Any]]) -> List[tuple]:
    if hasattr(cursor_or_client, "fetchall"):  # a psycopg cursor
        cursor_or_client.execute(query, parameters or None)
        return cursor_or_client.fetchall() if cursor_or_client.description is not None else []
    return cursor_or_client.execute(query, parameters or None)


def first_row(cursor_or_client: Any, query: Any, parameters: Sequence[Any] = ()) -> Optional[tuple]:
    """The first row of the result, or None."""
    rows = _rows(cursor_or_client, query, parameters)
    return rows[0] if rows else None


def first_value(cursor_or_client: Any, query: Any, parameters: Sequence[Any] = ()) -> Any:
    """The first value of the first row, or None."""
    row = first_row(cursor_or_client, query, parameters)
    return None if row is None else row[0]


def first_values(cursor_or_client: Any, query: Any, parameters: Sequence[Any] = ()) -> List[Any]:
    """The first value of every row."""
    return [row[0] for row in _rows(cursor_or_client, query, parameters)]
