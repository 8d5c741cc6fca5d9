"""``Run.track()``: status on entry and exit, SIGTERM, buffered metrics and a background heartbeat.

Exit → status: normal end and ``sys.exit(0)`` → ``normal`` (COMPLETED); an exception or a non-zero
``sys.exit`` → ``exception`` (FAILED), with ``runs.error`` holding the type, message and the tail of
the traceback; KeyboardInterrupt → ``interrupt`` (CANCELLED); SIGTERM → ``terminated`` (CANCELLED).
Exceptions are always re-raised.

SIGTERM: ``track()`` installs its own handler for the block (in the main thread) and restores the
previous one on exit. The handler calls a previous Python handler first, then raises
:class:`Terminated` (a ``SystemExit`` with code 143, as a default SIGTERM death would report), so the
block unwinds, the run is stopped with ``terminated`` and the buffered metrics are flushed. A previous
handler that exits itself (``pgtrack.sigterm.enable()``'s, SQLTrack code's ``sys.exit(143)``) still
ends the block as SIGTERM: its SystemExit becomes Terminated with the same exit code. Outside the
main thread Python cannot catch signals: ``track()`` warns once and the run is left to go stale
(use ``heartbeat=`` so a claim can take it over).

Background thread (when buffering or heartbeating; ``track()`` heartbeats every 15 s by default and
records that on the run (runs.heartbeat_every), so a run whose process died shows as LOST after three
silent intervals, about 45 s, or its experiment's lost_after if that is shorter; ``heartbeat=None``
turns it off, and the run is then lost after lost_after, 10 minutes by default): it has its own
connection, opened only when first needed. It
heartbeats every ``heartbeat`` seconds with the attempt the run holds, and writes buffered rows
once they are a second old (pgtrack.buffer.BACKGROUND_AFTER), so a SIGKILL loses about a second. When a
heartbeat gets PT004 (lease lost) it sets ``run.lease_lost``; the next ``add_metrics``/``flush``/
``heartbeat`` raises LeaseLostError, and the block's end does not overwrite the new holder's status.
"""
from __future__ import annotations

import datetime as _dt
import signal
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Tuple

import psycopg

from . import _notices, spill
from .buffer import BACKGROUND_AFTER, RETRY_EVERY
from .errors import LeaseLostError, PgtrackError

if TYPE_CHECKING:
    from .run import Run

ERROR_TAIL_CHARS = 4000
FINAL_RETRY_FOR = 2.0  # seconds the end of track() sends the final status again before saving it to a file
DEFAULT_HEARTBEAT = 15.0


class Terminated(SystemExit):
    """SIGTERM, raised by the handlers of ``track()`` and ``pgtrack.sigterm.enable()``: a ``SystemExit``
    with code 143 (as a default SIGTERM death would report) unless a previous handler chose another
    code. ``track()`` records it as its ``terminated`` status; not caught, it ends the process."""

    def __init__(self, code: Any = 128 + signal.SIGTERM) -> None:  # sys.exit()'s None stays None (exit 0)
        super().__init__(code)


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` and the tail of the traceback, for runs.error."""
    headline = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if len(trace) > ERROR_TAIL_CHARS:
        trace = "...\n" + trace[-ERROR_TAIL_CHARS:]
    return f"{headline}\n\n{trace}".strip()


class SigtermGuard:
    """Installs the SIGTERM handler for one track() block and restores the previous one."""

    def __init__(self) -> None:
        self.installed = False
        self.previous: Any = signal.SIG_DFL

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            _notices.warn("pgtrack: track() runs outside the main thread, where Python cannot catch SIGTERM; "
                          "a terminated process leaves this run RUNNING until it goes stale "
                          "(pass heartbeat=... so claim_next/claim_if_stale can take it over)", stacklevel=4)
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous is signal.SIG_IGN:  # the program chose to ignore SIGTERM: so do we
            return
        self.previous = signal.SIG_DFL if previous is None else previous

        def handler(signum: int, frame: Any) -> None:
            if callable(self.previous):
                try:
                    self.previous(signum, frame)
                except Terminated:
                    raise
                except SystemExit as exc:  # the previous handler ends the process for SIGTERM: still SIGTERM
                    raise Terminated(exc.code) from None
            raise Terminated()

        signal.signal(signal.SIGTERM, handler)
        self.installed = True

    def restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGTERM, self.previous)
            self.installed = False


class Keeper(threading.Thread):
    """Heartbeats and flushes aged buffered rows for one tracked run, on its own connection."""

    def __init__(self, run: "Run", heartbeat: Optional[float]):
        super().__init__(name=f"pgtrack-keeper-run-{run.id}", daemon=True)
        self.run_ = run
        self.interval = heartbeat
        self.client = run.client.clone(options="-c lock_timeout=2s -c statement_timeout=30s")
        self.stopping = threading.Event()
        self.last_error: Optional[BaseException] = None
        # A buffer may be opened later (an unbuffered block meeting an outage): tick for one anyway.
        self.tick = max(0.05, min(heartbeat or float("inf"), BACKGROUND_AFTER) / 4)

    def run(self) -> None:
        next_beat = time.monotonic() + (self.interval or 0)
        try:
            while not self.stopping.wait(self.tick):
                # The heartbeat and the flush fail apart: a heartbeat that cannot reach the server must
                # not keep the rows from their own retries and spill file (test_faults.py).
                try:
                    if self.interval and time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + min(self.interval, RETRY_EVERY)  # a failed beat: again soon
                        self.run_.lease.heartbeat(self.client)
                        next_beat = time.monotonic() + self.interval
                except LeaseLostError:
                    return  # the run knows (lease_lost); nothing more to do for it
                except Exception as exc:  # a passing failure: try again
                    self.last_error = exc
                try:
                    buffer = self.run_.writer.buffer
                    if buffer is not None and buffer.is_aged(BACKGROUND_AFTER) and not self.run_.client.in_transaction_block:
                        buffer.flush(self._write_batch)
                except LeaseLostError:
                    return
                except Exception as exc:
                    self.last_error = exc
        finally:
            self.client.close()

    def _write_batch(self, rows: List[Dict[str, Any]]) -> int:
        return self.run_.writer.write_batch(rows, self.client)  # on this thread's own connection

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


class Tracking:
    """The context manager returned by Run.track(); see the module docstring."""

    def __init__(self, run: "Run", normal: str, exception: str, interrupt: str, terminated: str,
                 started: Any, args: Any, env: Any, heartbeat: Optional[float], buffer: Optional[bool],
                 max_rows: Optional[int], max_seconds: Optional[float], spill_after: Optional[float] = None):
        if heartbeat is False or heartbeat == 0:
            heartbeat = None
        if heartbeat is not None and not heartbeat > 0:
            raise ValueError("heartbeat must be a positive number of seconds (None: no heartbeat)")
        self.run = run
        self.statuses = {"normal": normal, "exception": exception, "interrupt": interrupt, "terminated": terminated}
        self.started, self.args, self.env, self.heartbeat = started, args, env, heartbeat
        self.buffered = run.buffer if buffer is None else buffer
        self.max_rows, self.max_seconds, self.spill_after = max_rows, max_seconds, spill_after
        self.guard = SigtermGuard()
        self.keeper: Optional[Keeper] = None

    def __enter__(self) -> "Run":
        run = self.run
        if self.args is not None:
            run.set_args(self.args)
        if self.env is not None:
            run.set_env(self.env)
        if run.attempt is not None:  # a claimed run proves its lease (it was started by its claim)
            run.heartbeat()
            run.stopped = False
        else:
            run.start(started=self.started)
        _ = run.uuid  # known from here on, so rows spilled while the server is away name their run exactly
        writer = run.writer
        writer.tracking = True
        self.guard.install()
        if self.buffered:
            writer.open_buffer(self.max_rows, self.max_seconds, self.spill_after)
        if self.heartbeat:  # a run that heartbeats is lost after three silent intervals (lost.sql)
            run.lease.promise_heartbeat(run.client, self.heartbeat)
        if self.buffered or self.heartbeat:
            self.keeper = Keeper(run, self.heartbeat)
            self.keeper.start()
        return run

    def _outcome(self, exc: Optional[BaseException]) -> Tuple[str, Optional[str]]:
        if exc is None:
            return self.statuses["normal"], None
        if isinstance(exc, Terminated):
            return self.statuses["terminated"], "Terminated: SIGTERM received"
        if isinstance(exc, KeyboardInterrupt):
            return self.statuses["interrupt"], "KeyboardInterrupt"
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            return self.statuses["normal"], None
        if isinstance(exc, SystemExit):
            return self.statuses["exception"], f"SystemExit: {exc.code}"
        return self.statuses["exception"], describe_exception(exc)

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> Literal[False]:
        run = self.run
        status, error = self._outcome(exc)
        problems = []
        try:
            if self.keeper is not None:
                self.keeper.stop()
            try:
                run.flush(final=True)  # what cannot be delivered now goes to a spill file
            except Exception as flush_error:
                problems.append(flush_error)
                if exc is None:
                    status, error = self.statuses["exception"], describe_exception(flush_error)
            if not run.stopped and not run.lease_lost:
                try:
                    run.stop(status, error=error, retry_for=FINAL_RETRY_FOR)
                    if spill.pending():  # the server answers: what this process spilled earlier goes in now
                        run.writer.load_spilled()
                except psycopg.OperationalError as stop_error:  # server away: the final status waits in a spill file
                    try:
                        finished = _dt.datetime.now(_dt.timezone.utc).isoformat()  # recover records this end time
                        where = run.writer.spill([], stop={"status": status, "error": error, "finished": finished})
                    except (OSError, PgtrackError) as spill_error:  # and no spill file: say so, end normally
                        print(f"pgtrack: run {run.id}: could not record status {status}: the server is unreachable "
                              f"({str(stop_error).strip().splitlines()[0] if str(stop_error).strip() else 'no answer'}) "
                              f"and no spill file could be written ({spill_error})", file=sys.stderr)
                    else:
                        run.writer.warn(f"could not record status {status} (the server is unreachable); saved to {where}: "
                                  "`pgtrack recover`, or this process's next successful write, records it")
                except Exception as stop_error:
                    problems.append(stop_error)
            elif run.lease_lost and exc is None:
                problems.append(run.lease.error or LeaseLostError(f"lease lost on run {run.id}"))  # as Lease.check
        finally:
            run.writer.tracking = False
            run.writer.close_buffer()
            self.guard.restore()
        if problems and exc is None:
            raise problems[0]
        for problem in problems:
            _notices.warn(f"pgtrack: while ending run {run.id} after {exc_type.__name__}: {problem}", stacklevel=2)
        return False
