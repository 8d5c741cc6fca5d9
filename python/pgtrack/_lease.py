"""A run's lease: the attempt a worker holds, sent with every write so that a run taken over cannot
be written to by its old holder.

A run that ``register``/``claim_next``/``run_lifecycle`` handed out carries the ``attempt`` of its
claim; any other run has none (``attempt`` None: the writes are not fenced). Every fenced statement
(metrics, heartbeat, final status, the count of refused rows) passes it, and the server refuses with
PT004 (:class:`LeaseLostError`, nothing written) once another worker has claimed the run. The first
refusal is remembered here (``lost``): from then on every write of the run raises it at once, and
the end of ``track()`` does not overwrite the new holder's status.
"""
from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any, Optional

import psycopg

from . import _statements as sql
from .errors import LeaseLostError

if TYPE_CHECKING:
    from .client import Client


class Lease:
    """The hold of one run; see the module docstring. ``lost`` is a plain attribute: the metric hot
    path reads it on every call."""

    __slots__ = ("run_id", "attempt", "experiment_id", "lost", "error")

    def __init__(self, run_id: int, attempt: Optional[int], experiment_id: Optional[int]):
        self.run_id = run_id
        self.attempt = attempt
        self.experiment_id = experiment_id
        self.lost = False
        self.error: Optional[LeaseLostError] = None

    def check(self) -> None:
        """LeaseLostError if a write of this run was refused for a lost lease."""
        if self.lost:
            raise self.error or LeaseLostError(f"lease lost on run {self.run_id}")

    def lose(self, error: LeaseLostError) -> None:
        self.lost, self.error = True, error

    def call(self, client: "Client", statement: str, params: tuple, retry_for: float = 0.0) -> Any:
        """The statement's value; a lost lease is remembered. ``retry_for``: the statement is safe to
        repeat, and is sent again for that long when the connection breaks (Client.repeat)."""
        try:
            if retry_for:
                rows = client.repeat(statement, params, retry_for)
                return rows[0][0] if rows else None
            return client.value(statement, params)
        except LeaseLostError as exc:
            self.lose(exc)
            raise

    def heartbeat(self, client: "Client", retry_for: float = 0.0) -> _dt.datetime:
        """time_updated = now (the database clock), returned; LeaseLostError if the run was taken over."""
        self.check()
        return self.call(client, sql.HEARTBEAT, (self.run_id, self.attempt, self.experiment_id), retry_for)

    def promise_heartbeat(self, client: "Client", every: float) -> None:
        """Record on the run that its holder heartbeats every ``every`` seconds (track() does): it then
        shows as LOST after three silent intervals rather than the experiment's lost_after."""
        try:
            self.call(client, sql.SET_HEARTBEAT, (self.run_id, float(every), self.attempt, self.experiment_id))
        except psycopg.OperationalError:
            pass  # the server is away: the run keeps the experiment's lost_after; training goes on
