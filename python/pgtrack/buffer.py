"""Buffered metric logging: rows collect in memory and go to the server in one
``run_add_metrics_batch`` call when ``max_rows`` are waiting or the oldest is ``max_seconds`` old.

What a crash can lose: the rows not yet flushed. Inside ``Run.track()`` a background thread writes
rows once they are ``BACKGROUND_AFTER`` (1 s) old, so a SIGKILL loses about the last second of
logging; the training thread writes only when ``max_rows`` rows (500) pile up first or the oldest is
``max_seconds`` (5 s) old, and never waits for a flush already under way (it keeps logging into the
buffer instead). Rows are also flushed at the end of ``Run.track()`` whatever the exit (normal,
exception, KeyboardInterrupt, SIGTERM, sys.exit), by ``run.flush()``, and at interpreter exit. Only
SIGKILL, a hard crash of the interpreter or the machine loses the unflushed rows.

Tracking never kills training: a flush that fails because the server is restarting or unreachable
keeps its rows, warns once and retries (at most once a second, at the next row or tick); rows still
undelivered after ``spill_after`` seconds (default 60), or at the end of ``track()``, go to a local
spill file (pgtrack.spill) that the next successful flush or ``pgtrack recover`` loads. Metric writes
are idempotent upserts on (run_id, step, progress), so a retry never duplicates a row.

A row the server refuses costs that row alone: when a flush is refused (a column retyped since the
row was logged, a domain's CHECK), its rows are written again in halves until each refused row
stands alone; every other row is stored, the refused ones are handed to ``reject`` (the run warns
once and counts them in runs.metric_rows_rejected), and no later call raises because of them. A lost
lease still raises (the run is someone else's now). Values that can never be stored are refused
before they are buffered, by the call that logged them (pgtrack._metric_values). Without a spill
function (a bare MetricBuffer) a connection failure is raised, rows kept.
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional

import psycopg

from .errors import LeaseLostError, PgtrackError

Row = Dict[str, Any]
DEFAULT_MAX_ROWS = 500
DEFAULT_MAX_SECONDS = 5.0
DEFAULT_SPILL_AFTER = 60.0
RETRY_EVERY = 1.0
BACKGROUND_AFTER = 1.0  # the background thread of track() writes rows this old (what a SIGKILL may lose)
MAX_KEPT_ROWS = 200_000  # undelivered rows kept in memory when no spill file can be written

_live_buffers: "weakref.WeakSet[MetricBuffer]" = weakref.WeakSet()


class MetricBuffer:
    """Rows of one run waiting to be written. ``write(rows)`` does the writing (one SQL call)."""

    def __init__(self, write: Callable[[List[Row]], Any], max_rows: int = DEFAULT_MAX_ROWS,
                 max_seconds: float = DEFAULT_MAX_SECONDS, spill: Optional[Callable[[List[Row]], Any]] = None,
                 spill_after: float = DEFAULT_SPILL_AFTER, warn: Optional[Callable[[str], None]] = None,
                 reject: Optional[Callable[[List[Row], Exception], None]] = None):
        if max_rows < 1 or max_seconds <= 0:
            raise ValueError("max_rows must be >= 1 and max_seconds > 0")
        self.write = write
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._rows: List[Row] = []
        self._oldest = 0.0
        self._lock = threading.Lock()        # guards _rows
        self._flush_lock = threading.Lock()  # one flush at a time, so rows reach the server in order
        self.spill = spill
        self.spill_after = spill_after
        self.warn = warn
        self.reject = reject
        self.label = ""  # "run 7: ", for the one message printed without warn
        self.rejected = 0  # rows the server refused (see the module docstring)
        self.lost = 0  # rows neither the server nor a spill file took (memory bound, or the end of track())
        self._spill_warned = self._lost_warned = self._spilled_warned = False
        self._last_spill = 0.0  # monotonic time of the last spill file written
        self.failing_since: Optional[float] = None  # monotonic time of the first failure in a row
        self.spilled = 0  # rows written to spill files by this buffer
        self._next_try = 0.0
        _live_buffers.add(self)

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: Row) -> None:
        """Queue one row; flush if the buffer is full or its oldest row is too old."""
        now = time.monotonic()
        with self._lock:
            if not self._rows:
                self._oldest = now
            self._rows.append(row)
            due = len(self._rows) >= self.max_rows or now - self._oldest >= self.max_seconds
        if due and now >= self._next_try:
            self.flush(wait=False)  # never waits behind a flush under way (a slow server): rows stay queued

    def is_aged(self, after: Optional[float] = None) -> bool:
        """Rows wait, the oldest for ``after`` seconds (default max_seconds), and no retry pause is on."""
        now = time.monotonic()
        wait = self.max_seconds if after is None else min(after, self.max_seconds)
        return bool(self._rows) and now - self._oldest >= wait and now >= self._next_try

    def flush(self, write: Optional[Callable[[List[Row]], Any]] = None, final: bool = False, wait: bool = True) -> int:
        """Write every queued row in one call; returns how many rows were sent. ``final``: rows that
        cannot be delivered now go to a spill file at once (the end of track()). ``wait=False``: if
        another thread is flushing, return 0 at once (the rows wait for the next flush)."""
        if not self._flush_lock.acquire(blocking=wait):
            return 0
        try:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            write = write or self.write
            try:
                try:
                    write(rows)
                except psycopg.OperationalError:
                    if not final or self.failing_since is not None:
                        raise
                    write(rows)  # the last flush: a passing cut gets one more try, on a new connection
            except psycopg.OperationalError as exc:
                self._undelivered(rows, exc, final)
                return 0
            except (PgtrackError, psycopg.Error) as exc:  # the server refused something in these rows
                if isinstance(exc, LeaseLostError) or self.reject is None:
                    raise
                return self._write_apart(rows, write, final, exc)
            self._delivered()
            return len(rows)
        finally:
            self._flush_lock.release()

    def _write_apart(self, rows: List[Row], write: Callable[[List[Row]], Any], final: bool, error: Exception) -> int:
        """The rows of a refused flush (``error``), in halves until each refused row stands alone: the
        others are stored, the refused ones go to ``reject``. Connection trouble on the way keeps every
        row not refused for the next flush (rewriting a stored row is harmless: an upsert that merges)."""
        refused: List[Row] = []
        errors: List[Exception] = [error]

        def attempt(part: List[Row], known_bad: bool) -> None:
            if not known_bad:
                try:
                    write(part)
                    return
                except psycopg.OperationalError:
                    raise
                except (PgtrackError, psycopg.Error) as exc:
                    if isinstance(exc, LeaseLostError):
                        raise
                    errors.append(exc)
            if len(part) == 1:
                refused.append(part[0])
                return
            attempt(part[:len(part) // 2], False)
            attempt(part[len(part) // 2:], False)

        try:
            attempt(rows, True)
        except psycopg.OperationalError as exc:
            gone = {id(row) for row in refused}
            self._undelivered([row for row in rows if id(row) not in gone], exc, final)
            stored = 0
        else:
            self._delivered()
            stored = len(rows) - len(refused)
        if refused:
            self.rejected += len(refused)
            self.reject(refused, errors[-1])  # type: ignore[misc]
        return stored

    def _delivered(self) -> None:
        """A write went through: the outage, if any, is over (the next one warns again)."""
        self.failing_since = None
        self._spilled_warned = False

    def _undelivered(self, rows: List[Row], exc: Exception, final: bool) -> None:
        """Connection trouble: keep the rows (in order) for the next flush, or spill them."""
        now = time.monotonic()
        first = self.failing_since is None
        if first:
            self.failing_since = now
        self._next_try = now + RETRY_EVERY
        if self.spill is None:
            with self._lock:
                self._rows[:0] = rows
                self._oldest = now
            raise exc
        # Rows go to a spill file once the outage is spill_after old, then once every spill_after while
        # it lasts (one file a minute, not one a retry), and at the end of track(); one warning.
        assert self.failing_since is not None  # set above if this outage had not already set it
        if final or now - max(self.failing_since, self._last_spill) >= self.spill_after:
            try:
                where = self.spill(rows)
            except (OSError, PgtrackError) as spill_error:  # an unwritable, full or planted spill directory
                self._unspillable(rows, exc, spill_error, final)
                return
            self.spilled += len(rows)
            self._last_spill = now
            if self.warn and not self._spilled_warned:
                self._spilled_warned = True
                again = "" if final else f"; while it stays away, rows are saved there every {self.spill_after:g} s"
                self.warn(f"{len(rows)} metric rows saved to {where}{again}; the next successful write or "
                          "`pgtrack recover` loads them")
            return
        self._keep(rows, now)
        if first and self.warn:
            self.warn(f"cannot reach the server ({_first_line(exc)}); keeping {len(rows)} metric rows and retrying, "
                      f"training goes on (after {self.spill_after:g} s they are saved to a local file)")

    def _keep(self, rows: List[Row], now: float) -> None:
        """Put undelivered rows back in front of the queue, at most MAX_KEPT_ROWS in all: past that the
        oldest go, counted (memory is the limit when neither the server nor a spill file takes them)."""
        with self._lock:
            self._rows[:0] = rows
            self._oldest = now
            excess = len(self._rows) - MAX_KEPT_ROWS
            if excess > 0:
                del self._rows[:excess]
                self.lost += excess
        if excess > 0 and self.warn and not self._lost_warned:
            self._lost_warned = True
            self.warn(f"dropped the {excess} oldest metric rows: {MAX_KEPT_ROWS} are kept in memory while neither the "
                      "server nor a spill file takes them (more are counted in the final message)")

    def _unspillable(self, rows: List[Row], exc: Exception, spill_error: Exception, final: bool) -> None:
        """Neither the server nor a spill file takes these rows. While training goes on they stay in
        memory (bounded) for the next try; at the end they are lost, and stderr says exactly which
        and why (the script itself ends normally)."""
        if not final:
            if not self._spill_warned and self.warn:
                self._spill_warned = True
                self.warn(f"cannot save metric rows to a spill file ({_first_line(spill_error)}); keeping up to "
                          f"{MAX_KEPT_ROWS} rows in memory and retrying the server")
            self._keep(rows, time.monotonic())
            return
        steps = [row.get("step", 0) for row in rows]
        self.lost += len(rows)
        print(f"pgtrack: {self.label}{self.lost} metric rows could not be kept (the last ones: steps {min(steps)} to "
              f"{max(steps)}): the server is unreachable ({_first_line(exc)}) and no spill file could be written "
              f"({_first_line(spill_error)})", file=sys.stderr)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@atexit.register
def _flush_at_exit() -> None:
    for buffer in list(_live_buffers):
        try:
            buffer.flush(final=True)
        except Exception as exc:  # the interpreter is exiting: report, do not raise
            print(f"pgtrack: could not flush {len(buffer)} buffered metric rows at exit: {exc}",
                  file=sys.stderr)
