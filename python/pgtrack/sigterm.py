"""SQLTrack's ``sqltrack.sigterm``: callbacks to run when the process receives SIGTERM.

pgtrack's ``Run.track()`` handles SIGTERM itself (the run ends CANCELLED, metrics flushed, exit 143),
so most code needs nothing here. For code written against SQLTrack: ``register(key, fn)`` adds a
callback, ``deregister(key)`` removes it, ``enable()`` installs the handler, which calls every
callback (a callback may deregister itself), then a previous Python handler, then raises
:class:`Terminated` (a ``SystemExit`` with code 143: the process exits 143 unless it is caught).

``enable()`` and ``track()`` together: ``track()``'s handler calls the one it found (this one), which
runs the callbacks and raises Terminated, so the block ends as SIGTERM (``terminated``, CANCELLED).
SQLTrack 0.1.4's handler exited with a plain ``sys.exit(143)`` that its ``track()`` recorded as FAILED
(and crashed first when a callback deregistered itself); this one does neither.
"""
from __future__ import annotations

import signal
import sys
from typing import Any, Callable, Dict, Hashable

from .tracking import Terminated

_callbacks: Dict[Hashable, Callable[[], Any]] = {}
_previous: Any = signal.SIG_DFL


def register(key: Hashable, fn: Callable[[], Any]) -> None:
    _callbacks[key] = fn


def deregister(key: Hashable) -> None:
    _callbacks.pop(key, None)


def terminate(signum: int = signal.SIGTERM, frame: Any = None) -> None:
    for fn in list(_callbacks.values()):  # a copy: callbacks may deregister themselves
        fn()
    if callable(_previous):
        _previous(signum, frame)
    print("Terminated", file=sys.stderr)
    raise Terminated()


def enable() -> None:
    """Install the handler (main thread only, as Python requires); idempotent."""
    global _previous
    current = signal.getsignal(signal.SIGTERM)
    if current is not terminate:
        _previous = current
        signal.signal(signal.SIGTERM, terminate)
