"""Client: one long-lived psycopg 3 connection, reused by every call.

Transactions (as in SQLTrack and wallow): every call commits at once (the connection is in autocommit
mode), except inside ``with client.connect():``, whose outermost block is one transaction that commits
at its end and rolls back on an exception. Blocks nest and share the connection and the transaction;
``client.commit()``/``client.rollback()`` end the block's transaction early and the block goes on in
a new one.

Reconnects: before a call outside a block, a connection the server has closed (restart, idle kill)
is noticed without a round trip (its socket is readable while it should be silent) and replaced, so
the call goes to a new connection and nothing is sent twice. A call during which the connection
breaks raises pgtrack.ServerUnreachable (a psycopg.OperationalError) and is not retried (it may have
run); the next call reconnects. Inside a block the transaction is lost and the error is raised.
:meth:`Client.repeat` is the exception: it sends again a statement that is safe to repeat (an
idempotent write, or a ``*_once`` call carrying its request id), for up to ``retry_for`` seconds.

Embedded default: with no connection settings at all (no kwargs, no ``PGTRACK_DSN_*``, no config file,
none of libpq's PGHOST/PGHOSTADDR/PGPORT/PGDATABASE/PGSERVICE), the Client uses the per-user embedded
server of :mod:`pgtrack.embedded` (``pip install "pgtrack[embedded]"``), starting it if needed;
``PGTRACK_EMBEDDED=0`` turns that off (libpq's defaults then apply).

Read replica: with ``read_dsn`` (a conninfo or URL of a streaming replica), the analysis helpers
(``pgtrack.report``, ``pgtrack.pandas``, ``pgtrack.plot``, the CLI's runs/experiments/inspect/report)
read through :meth:`Client.for_reading`, a second connection to the replica; everything else, and
every write, uses the primary. A replica lags: what was just written is visible through the Client
itself at once, and through the replica once it has replayed that far.

``schema=`` (SQLTrack's shorthand, e.g. ``Client(schema="pgtrack")``): every connection this Client
opens (reconnects, clones, the replica's) starts with ``search_path = pg_catalog, pgtrack[, schema]``,
so SQL written for SQLTrack finds pgtrack's tables by their plain names (pgtrack.config).

Threads: a Client (and its connection) belongs to one thread at a time. Use ``client.clone()`` for
another thread; the background heartbeat of ``Run.track(heartbeat=...)`` does so itself.

Processes: a child made by ``fork`` (``multiprocessing``'s default on Linux, as wallow's README forks
its workers after opening a Store) must not use its parent's connection: two processes writing one
socket interleave their messages, and the child waited forever for an answer its parent read. In the
child every Client opened before the fork forgets its connections and opens its own at the next call;
the inherited socket is pointed at /dev/null first, so that closing it in the child (or the
interpreter's exit) cannot send the server the "terminate" message that would end the parent's
session.
"""
from __future__ import annotations

import os
import select
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, TypeVar

import psycopg

from . import embedded
from ._columns import MetricColumns
from .config import conninfo, network_defaults, resolve_params
from .errors import ServerUnreachable, translate

if TYPE_CHECKING:
    from psycopg.abc import Params  # a sequence (%s placeholders) or a mapping (%(name)s), as psycopg takes them

_TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK
T = TypeVar("T")
RETRY_FOR = 10.0  # seconds Client.repeat keeps sending a statement to a server that does not answer


class Client:
    """Connection settings plus the one connection pgtrack uses. See the module docstring."""

    def __init__(self, config_path: Optional[os.PathLike] = None, read_dsn: Optional[str] = None, **kwargs: Any):
        params = resolve_params(config_path, kwargs)
        read_dsn = read_dsn or params.pop("read_dsn", None)  # also PGTRACK_DSN_READ_DSN, read_dsn= in the file
        schema = params.pop("schema", None)  # names no server: the embedded one is still the default
        is_embedded = embedded.wanted(params)
        params = embedded.connection_params() if is_embedded else params
        self._setup(dict(params, schema=schema) if schema else params, is_embedded, read_dsn)

    def _setup(self, params: Dict[str, str], is_embedded: bool, read_dsn: Optional[str]) -> None:
        _clients.add(self)
        self.params = params
        # SQLTrack's search_path shorthand (pgtrack.config): kept in params, so clones and another
        # process's Client (from_params) get it too; conninfo() turns it into the connection's options.
        self.schema: Optional[str] = params.get("schema") or None
        self.conninfo = conninfo(params)
        # timeouts, so a silent server cannot hang a call. Any: passed as **kwargs, a str value would be
        # checked against connect()'s own keywords too (autocommit: bool, ...)
        self._network: Dict[str, Any] = network_defaults(self.conninfo)
        self.embedded = is_embedded
        self.read_dsn = read_dsn
        self._conn: Optional[psycopg.Connection] = None
        self._reused: Optional[psycopg.Cursor] = None  # see _reused_cursor
        self._reused_raw: Optional[psycopg.RawCursor] = None  # see step_cursor
        self._reader: Optional[Client] = None
        self._depth = 0
        self.columns = MetricColumns()  # what this client knows of the metric columns (pgtrack._columns)

    @classmethod
    def from_params(cls, params: Dict[str, str], embedded: bool = False, read_dsn: Optional[str] = None) -> "Client":
        """A Client on settings already resolved (``client.params``, ``client.embedded``): what another
        process or thread of the same program uses (clone, a sweep's workers); nothing is read again."""
        client = cls.__new__(cls)
        client._setup(dict(params), embedded, read_dsn)
        return client

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("password", "dsn")}
        return f"Client({shown})"

    def clone(self, **overrides: str) -> "Client":
        """A new Client with the same settings (``overrides`` win; ``options`` are appended) and its
        own connection, for another thread."""
        params = dict(self.params)
        if "options" in overrides and params.get("options"):
            overrides["options"] = f"{params['options']} {overrides['options']}"
        params.update(overrides)
        return Client.from_params(params, self.embedded, self.read_dsn)

    def for_reading(self) -> "Client":
        """The Client that analysis reads go through: a Client on ``read_dsn`` (a replica; its own
        connection, made on first use) when one is set, else this one. Writes never go there."""
        if not self.read_dsn:
            return self
        if self._reader is None:
            self._reader = Client.from_params({"dsn": self.read_dsn, **({"schema": self.schema} if self.schema else {})})
        return self._reader

    # -- the connection --------------------------------------------------------------------------

    @property
    def in_transaction_block(self) -> bool:
        """True inside ``with client.connect():``."""
        return self._depth > 0

    def connection(self) -> psycopg.Connection:
        """The connection, opened (or replaced, when the server closed it) if needed."""
        conn = self._conn
        if conn is not None and self._depth == 0 and not conn.closed and _closed_by_server(conn):
            conn.close()
        if conn is None or conn.closed or conn.broken:
            if self._depth > 0:
                raise psycopg.OperationalError(
                    "the connection was lost inside client.connect(): the block's transaction is rolled back")
            self._conn = conn = psycopg.connect(self.conninfo, autocommit=True, **self._network)
        return conn

    def open_connection(self) -> psycopg.Connection:
        """The connection as it is when it is open, without connection()'s check for one the server
        closed: for writes that are safe to send again on a new connection (pgtrack._writer)."""
        conn = self._conn
        return conn if conn is not None and not conn.closed else self.connection()

    def close(self) -> None:
        """Close the connection, and the replica's (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = self._reused = self._reused_raw = None
        if self._reader is not None:
            self._reader.close()

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """Reentrant: the outermost block is one transaction, committed at its end (rolled back on
        an exception); inner blocks share it."""
        conn = self.connection()
        outermost = self._depth == 0
        if outermost:
            conn.autocommit = False
        self._depth += 1
        try:
            yield conn
        except BaseException:
            if outermost and not conn.closed:
                conn.rollback()
            raise
        else:
            if outermost:
                conn.commit()
        finally:
            self._depth -= 1
            if outermost and not conn.closed and not conn.broken:
                conn.autocommit = True

    @contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor]:
        """A cursor inside ``connect()`` (so a block of cursor work is one transaction)."""
        with self.connect() as conn, conn.cursor() as cur:
            yield cur

    def commit(self) -> None:
        """Commit the current block's transaction (RuntimeError outside ``connect()``)."""
        self._require_block("commit").commit()

    def rollback(self) -> None:
        """Roll back the current block's transaction (RuntimeError outside ``connect()``)."""
        self._require_block("rollback").rollback()

    def _require_block(self, what: str) -> psycopg.Connection:
        if self._depth == 0 or self._conn is None:
            raise RuntimeError(f"{what}() needs an open client.connect() block; outside one every call commits at once")
        return self._conn

    # -- metrics -----------------------------------------------------------------------------------

    def add_metric(self, name: str, type: str = "double precision", comment: Optional[str] = None) -> bool:
        """Add a metric column (``pgtrack.add_metric``): True if added, False if it exists with this
        type. Names may be written as frameworks do (``"train/loss"``). Needs the owner or pgtrack_admin;
        ``run.add_metrics`` adds a missing double precision column by itself when it may."""
        from . import _statements as sql
        from .errors import SchemaValidationError

        try:
            added = self.value(sql.ADD_METRIC, (name, type, comment))
        except (psycopg.errors.UndefinedObject, psycopg.errors.InvalidSchemaName, psycopg.errors.SyntaxError,
                psycopg.errors.InvalidTextRepresentation) as exc:  # the type name did not parse as a type
            raise SchemaValidationError(f"{type!r} is not a type: {exc.diag.message_primary}",
                                        hint="use a built-in type such as double precision, real, bigint, integer, "
                                             "boolean, text, timestamptz or jsonb") from None
        self.columns.forget()
        return added

    def metric_names(self, refresh_unless: Iterable[str] = ()) -> Set[str]:
        """The metric columns (cached; reloaded when the cache lacks one of ``refresh_unless``)."""
        return self.columns.load(self, refresh_unless)

    def copyable_metric_names(self) -> Set[str]:
        """The metric columns buffered flushes may COPY (double precision, sent in binary), from the same
        cache as metric_names; a stale entry only costs that batch the upsert path. Empty on a
        distributed database (Citus), where every flush is the upsert."""
        self.columns.load(self)
        return self.columns.copyable

    # -- calls -----------------------------------------------------------------------------------

    def _cursor(self, query: Any, params: Optional[Params], row_factory: Any = None) -> psycopg.Cursor:
        conn = None
        try:
            conn = self.connection()
            cur = conn.cursor(row_factory=row_factory) if row_factory else self._reused_cursor(conn)
            cur.execute(query, params)
            return cur
        except psycopg.OperationalError as exc:
            # Connection trouble: not retried (the call may have run); the next call reconnects. A lost
            # connection becomes one line (ServerUnreachable); a timeout or cancel on a live one stays.
            if conn is None or conn.closed or not exc.sqlstate or exc.sqlstate.startswith("08"):
                raise ServerUnreachable.from_error(exc) from None
            raise
        except psycopg.Error as exc:
            raise translate(exc) from None
        except UnicodeEncodeError as exc:  # a lone surrogate in a text parameter: nothing was sent
            from .errors import SchemaValidationError

            raise SchemaValidationError(f"text {exc.object[max(0, exc.start - 20):exc.end + 20]!r} is not valid Unicode "
                                        f"({exc.reason})", hint="pass text without lone surrogates such as '\\ud800'") from None

    def _reused_cursor(self, conn: psycopg.Connection) -> psycopg.Cursor:
        """The one cursor of this connection, reused by every call: psycopg keeps the adapters it
        found for the parameters and the result columns per cursor, and a new cursor per call looks
        them up again (about 25 us a call here; 5% of an unbuffered step, docs/design.md). Safe
        because every caller reads its rows before it returns, and a Client serves one thread."""
        cur = self._reused
        if cur is None or cur.connection is not conn:
            cur = self._reused = conn.cursor()
        return cur

    def step_cursor(self, conn: psycopg.Connection) -> psycopg.RawCursor:
        """The one raw cursor ($n placeholders, as the server writes them) of this connection, reused
        like _reused_cursor: for the statement of an unbuffered step (pgtrack._step)."""
        cur = self._reused_raw
        if cur is None or cur.connection is not conn:
            cur = self._reused_raw = psycopg.RawCursor(conn)
        return cur

    def execute(self, query: Any, params: Optional[Params] = None, row_factory: Any = None) -> List[Any]:
        """Run one statement and return its rows ([] if it returns none); ``row_factory`` as in
        psycopg (e.g. ``psycopg.rows.dict_row``). pgtrack SQLSTATEs become pgtrack exceptions; a
        connection the server closed between calls is replaced before the call."""
        cur = self._cursor(query, params, row_factory)
        result = cur.pgresult  # not cur.description: that builds a Column object per column, every call
        return cur.fetchall() if result is not None and result.status == _TUPLES_OK else []

    def execute_with_columns(self, query: Any, params: Optional[Params] = None) -> Tuple[List[str], List[Any]]:
        """(column names, rows) of one statement, for tables and DataFrames."""
        cur = self._cursor(query, params)
        if cur.description is None:
            return [], []
        return [c.name for c in cur.description], cur.fetchall()

    def repeat(self, query: Any, params: Optional[Params] = None, retry_for: float = RETRY_FOR,
               row_factory: Any = None) -> List[Any]:
        """``execute`` for a statement that is safe to send twice (a read, an idempotent write, a
        ``*_once`` call with its request id): see :meth:`retrying`."""
        return self.retrying(lambda: self.execute(query, params, row_factory), retry_for)

    def retrying(self, call: Callable[[], T], retry_for: float = RETRY_FOR) -> T:
        """``call()``, which must be safe to run twice (reads, idempotent writes): when the connection
        breaks or the server does not answer, it runs again on a new connection (after 0.1 s, doubling
        to 2 s) for up to ``retry_for`` seconds after the first failure (so at least once), then
        ServerUnreachable. Inside ``client.connect()`` the block's transaction is lost: raised at once."""
        deadline = None
        pause = 0.1
        while True:
            try:
                return call()
            except ServerUnreachable:
                now = time.monotonic()
                deadline = now + retry_for if deadline is None else deadline
                if self._depth or now + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2.0, pause * 2)

    def one(self, query: Any, params: Optional[Params] = None) -> Optional[tuple]:
        """The first row of a statement, or None."""
        rows = self.execute(query, params)
        return rows[0] if rows else None

    def value(self, query: Any, params: Optional[Params] = None) -> Any:
        """The first column of the first row, or None."""
        row = self.one(query, params)
        return None if row is None else row[0]


_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    """In a forked child: each Client's connection (and its replica reader's) is its parent's. Its
    socket is pointed at /dev/null and the connection dropped, so the child opens its own and never
    writes to, reads from or closes the parent's session (see the module docstring)."""
    for client in list(_clients):
        conn, client._conn, client._reused, client._reused_raw, client._depth = client._conn, None, None, None, 0
        if conn is None or conn.closed:
            continue
        try:
            sock = conn.pgconn.socket
            null = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(null, sock)
            finally:
                os.close(null)
        except (OSError, psycopg.Error):
            pass
        _inherited.append(conn)  # never collected in the child: its finalizer would close what is now /dev/null anyway


_inherited: List[psycopg.Connection] = []
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_after_fork)


def _closed_by_server(conn: psycopg.Connection) -> bool:
    """An idle autocommit connection receives nothing unless the server closed it (or sent a notice
    before closing), so a readable socket means: replace it before use."""
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


def for_reading(client_or_cursor: Any) -> Any:
    """``client.for_reading()`` for a Client, the argument itself for anything else (a cursor)."""
    method = getattr(client_or_cursor, "for_reading", None)
    return method() if callable(method) else client_or_cursor
