"""Run statuses in Python: the runstatus label, compared the way wallow and SQLTrack users write it.

``Status`` is a ``str`` whose value is the enum label (``str(status) == "COMPLETED"``, JSON and
psycopg see the label), and whose ``==`` matches any spelling of the same state: the label in any
case (``"completed"``, ``"Completed"``) and wallow's words (``"done"``, ``"finished"``, ``"success"``
→ COMPLETED; ``"error"``, ``"failure"`` → FAILED; ``"canceled"`` → CANCELLED). So wallow's resume-safe
idiom ``if run.status == "completed": continue`` skips a completed run, as it does in wallow.
"""
from __future__ import annotations

from typing import Any

_ALIASES = {"done": "COMPLETED", "complete": "COMPLETED", "finished": "COMPLETED", "success": "COMPLETED",
            "error": "FAILED", "failure": "FAILED", "canceled": "CANCELLED"}


def status_name(value: str) -> str:
    """The runstatus label for a status string in any spelling (unknown words upper-cased as they are)."""
    return _ALIASES.get(value.strip().lower(), value.strip().upper())


class Status(str):
    """A runstatus label that compares equal to every spelling of it (see the module docstring)."""

    __slots__ = ()

    def __new__(cls, label: Any) -> "Status":
        return super().__new__(cls, status_name(str(label)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str.__eq__(self, status_name(other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    # The label's hash: a Status is found in sets and dicts keyed by labels ({"COMPLETED"}, and by other
    # Status values). No hash can agree with == for every spelling (hash("completed") and
    # hash("COMPLETED") differ, and both strings equal Status("COMPLETED")), so a set of other spellings
    # does not find it: write labels there, or compare with ==. docs/python.md says so.
    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Status({str.__str__(self)!r})"

    def __str__(self) -> str:
        return str.__str__(self)
