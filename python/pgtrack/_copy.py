"""Buffered metric rows through binary COPY: the fast path of a flush, and its protocol exchange
(the rows are encoded by pgtrack._copy_data, as psycopg keeps its copy formats apart from its Copy).

A flush of the common batch (new steps of one run, every value a float or int for a double precision
column) is one simple-query message, so one implicit transaction in two round trips (as many as a bare
COPY): ``SELECT pgtrack._metrics_copy_begin(...)`` (the touch and lease check of every metric write,
holding the run's row lock to commit, and whether any row of the run lies in the batch's (step,
progress) range), then ``COPY pgtrack.metrics ... FROM STDIN (FORMAT binary)``. That costs about what
a hand-written COPY does (bench/results.md §1; docs/design.md, "Where the time goes").

Everything else goes through ``run_add_metrics_batch`` (the upsert that merges), and so does a batch
whose COPY fails for any reason but the connection: a row of the range already stored (a retry, a step
logged again), a concurrent raw INSERT of the same key (the primary key refuses the COPY), a column
whose type changed since the client cached it. So the guarantees are the upsert's: idempotent writes,
lease fencing with ``attempt``, the row lock against a concurrent claim, and the same errors. On a
distributed database (Citus) the client offers no column to this path (statements.METRIC_NAMES), so
every flush there is the upsert.
"""
from __future__ import annotations

import select
import struct
from typing import Any, Optional, Sequence, Set

import psycopg
from psycopg import pq
from psycopg import sql as _sql

from ._copy_data import Batch, Row, prepare
from .errors import LeaseLostError, translate


def copy(conn: psycopg.Connection, run_id: int, rows: Sequence[Row], float_columns: Set[str],
         attempt: Optional[int], experiment_id: Optional[int]) -> Optional[int]:
    """Write rows by COPY if they qualify (see the module docstring): the number of rows written, or
    None when the caller must use run_add_metrics_batch. LeaseLostError (nothing written) if the run
    was taken over; connection trouble raises psycopg.OperationalError (the buffer keeps the rows)."""
    batch = prepare(rows, float_columns)
    if batch is None or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return None
    query = _sql.SQL("SELECT pgtrack._metrics_copy_begin({}::pg_catalog.int8, {}::pg_catalog.int8, {}::pg_catalog.float8, "
                     "{}::pg_catalog.int8, {}::pg_catalog.float8, {}::pg_catalog.int4, {}::pg_catalog.int8); "
                     "COPY pgtrack.metrics (run_id, experiment_id, step, progress{}) FROM STDIN (FORMAT binary)").format(
        *map(_sql.Literal, (run_id, *batch.first, *batch.last, attempt, experiment_id)),
        _sql.SQL("").join(_sql.SQL(", {}").format(_sql.Identifier(n)) for n in batch.names)).as_string(conn)
    with conn.lock:
        exchange = _Exchange(conn)
        try:
            return exchange.run(query.encode(conn.info.encoding), run_id, experiment_id, batch)
        except BaseException:
            if not exchange.done:  # the protocol stopped half way: this connection cannot be used again
                conn.close()
            raise


class _Exchange:
    """One simple-query message, ``SELECT _metrics_copy_begin(...); COPY ... FROM STDIN``: a single
    implicit transaction (the check's row lock is held until the COPY commits) in two round trips, as
    many as a bare COPY. Driven through libpq (psycopg.pq) on the caller's idle connection, under its
    lock, because psycopg's copy() takes one statement only."""

    def __init__(self, conn: psycopg.Connection):
        self.conn, self.pg, self.done = conn, conn.pgconn, False

    def run(self, query: bytes, run_id: int, experiment_id: Optional[int], batch: Batch) -> Optional[int]:
        self.pg.send_query(query)
        self._flush()
        data = self._encode(batch, run_id, experiment_id)  # while the server runs the check
        begun = self._result()
        if begun.status != pq.ExecStatus.TUPLES_OK:  # the check refused (lease lost, no such run)
            self._failed(begun)
            return None
        experiment = begun.get_value(0, 0)
        copying = self._result()
        if copying.status != pq.ExecStatus.COPY_IN:
            self._failed(copying)
            return None
        if experiment is None:  # rows of the range are stored already: the upsert merges
            data = None
        elif int(experiment) != experiment_id:
            data = self._encode(batch, run_id, int(experiment))
        if data is None:
            self._put(lambda: self.pg.put_copy_end(b"pgtrack: handing the batch to the upsert"))
        else:
            self._put(lambda: self.pg.put_copy_data(data))
            self._put(lambda: self.pg.put_copy_end(None))
        self._flush()
        copied = self._result()
        if copied.status != pq.ExecStatus.COMMAND_OK:
            self._failed(copied)
            return None
        self._drain()
        return None if data is None else copied.command_tuples

    @staticmethod
    def _encode(batch: Batch, run_id: int, experiment_id: Optional[int]) -> Optional[bytes]:
        if experiment_id is None:
            return None
        try:
            return batch.encode(run_id, experiment_id)
        except (OverflowError, struct.error):  # a value int8/float8 cannot hold: the upsert refuses it in words
            return None

    def _failed(self, result: pq.abc.PGresult) -> None:
        """Nothing was written: LeaseLostError for a lost lease, None (the upsert) for anything else."""
        self._drain()
        if result.status == pq.ExecStatus.FATAL_ERROR:
            error = translate(psycopg.errors.error_from_result(result, self.conn.info.encoding))
            if isinstance(error, LeaseLostError):
                raise error
        return None

    def _drain(self) -> None:
        while self._result() is not None:
            pass
        self.done = True

    def _result(self) -> Any:
        pg = self.pg
        while True:
            pg.consume_input()
            if not pg.is_busy():
                return pg.get_result()
            select.select([pg.socket], [], [])

    def _put(self, put: Any) -> None:
        while not put():  # 0: libpq's buffer is full (nonblocking connection)
            self._wait_writable()

    def _flush(self) -> None:
        while self.pg.flush():
            self._wait_writable()

    def _wait_writable(self) -> None:
        pg = self.pg
        readable, _, _ = select.select([pg.socket], [pg.socket], [])
        if readable:
            pg.consume_input()
        pg.flush()
