"""Buffered metric logging: rows collect in memory and go to the server in one
``run_add_metrics_batch`` call when ``max_rows`` are waiting or the oldest is ``max_seconds`` old.

What a crash can lose: the rows not yet flushed, so at most ``max_rows`` rows or ``max_seconds`` of
logging (defaults 500 rows, 5 s). Rows are flushed at the end of ``Run.track()`` whatever the exit
(normal, exception, KeyboardInterrupt, SIGTERM, sys.exit), by ``run.flush()``, by the background
thread of ``track(heartbeat=...)`` when they get old while the loop is busy elsewhere, and at
interpreter exit. Only SIGKILL, a hard crash of the interpreter or the machine loses the window.

A flush that fails because the connection broke keeps its rows for the next flush; one the server
refuses (a value of the wrong type, lease lost) drops them and raises, since they would never succeed.
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional

import psycopg

Row = Dict[str, Any]
DEFAULT_MAX_ROWS = 500
DEFAULT_MAX_SECONDS = 5.0

_live_buffers: "weakref.WeakSet[MetricBuffer]" = weakref.WeakSet()


class MetricBuffer:
    """Rows of one run waiting to be written. ``write(rows)`` does the writing (one SQL call)."""

    def __init__(self, write: Callable[[List[Row]], Any], max_rows: int = DEFAULT_MAX_ROWS,
                 max_seconds: float = DEFAULT_MAX_SECONDS):
        if max_rows < 1 or max_seconds <= 0:
            raise ValueError("max_rows must be >= 1 and max_seconds > 0")
        self.write = write
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._rows: List[Row] = []
        self._oldest = 0.0
        self._lock = threading.Lock()        # guards _rows
        self._flush_lock = threading.Lock()  # one flush at a time, so rows reach the server in order
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
        if due:
            self.flush()

    def is_aged(self) -> bool:
        return bool(self._rows) and time.monotonic() - self._oldest >= self.max_seconds

    def flush(self, write: Optional[Callable[[List[Row]], Any]] = None) -> int:
        """Write every queued row in one call; returns how many rows were sent."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                (write or self.write)(rows)
            except psycopg.OperationalError:
                with self._lock:  # connection trouble: keep them, in order, for the next flush
                    self._rows[:0] = rows
                    self._oldest = time.monotonic()
                raise
            return len(rows)


@atexit.register
def _flush_at_exit() -> None:
    for buffer in list(_live_buffers):
        try:
            buffer.flush()
        except Exception as exc:  # the interpreter is exiting: report, do not raise
            print(f"pgtrack: could not flush {len(buffer)} buffered metric rows at exit: {exc}",
                  file=sys.stderr)
