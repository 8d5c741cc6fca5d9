"""What a Client knows of the metric columns: their names, which hold numbers, which a flush may
COPY, and the server's statement for one unbuffered step per set of names.

Loaded once and kept until a name is missing from it (a new metric) or the client changes the
columns itself. A stale entry is harmless: every route that trusts it checks the column again on
the server (a COPY or a typed statement that meets a retyped column writes nothing, and the upsert
``run_add_metrics`` writes the row or says why it cannot).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterable, Optional, Set, Tuple

import psycopg

from . import _statements as sql

if TYPE_CHECKING:
    from .client import Client

_MAX_STATEMENTS = 256  # distinct sets of names a process logs are few; past this, start over


class MetricColumns:
    """The cache; see the module docstring. ``known`` is None until loaded (and after ``forget``)."""

    __slots__ = ("known", "floats", "copyable", "_statements")

    def __init__(self) -> None:
        self.known: Optional[Set[str]] = None
        self.floats: Set[str] = set()  # double precision columns: a value must be a number
        self.copyable: Set[str] = set()  # what a flush may COPY and a step may write typed; empty on Citus
        self._statements: Dict[Tuple[str, ...], Optional[bytes]] = {}

    def forget(self) -> None:
        """Load again at the next use (the columns changed)."""
        self.known = None
        self._statements.clear()

    def load(self, client: "Client", refresh_unless: Iterable[str] = ()) -> Set[str]:
        """The metric column names, loaded when unknown or missing one of ``refresh_unless``."""
        known = self.known
        if known is None or not known.issuperset(refresh_unless):
            columns = client.execute(sql.METRIC_NAMES)
            self.copyable = {name for name, copyable, _ in columns if copyable}
            self.floats = {name for name, _, is_float in columns if is_float}
            self._statements.clear()
            known = self.known = {name for name, _, _ in columns}
        return known

    def step_statement(self, conn: psycopg.Connection, names: Tuple[str, ...]) -> Optional[bytes]:
        """The server's statement for one step of these (double precision) metrics
        (``pgtrack._metrics_statement``: $1 run, $2 attempt, $3 experiment, $4 step, $5 progress, then
        the values), fetched on ``conn`` once per set of names; None where the server has none for them.
        Connection trouble raises psycopg.OperationalError."""
        try:
            return self._statements[names]
        except KeyError:
            pass
        try:
            text = conn.execute(sql.METRICS_STATEMENT, (list(names),)).fetchone()[0]  # type: ignore[index]
        except psycopg.OperationalError:
            raise
        except psycopg.Error:  # a server without the function (an extension not yet upgraded): the upsert
            text = None
        if len(self._statements) >= _MAX_STATEMENTS:
            self._statements.clear()
        statement = self._statements[names] = None if text is None else text.encode(conn.info.encoding)
        return statement
