"""Metric names and steps checked on the Python side, and errors about them told in Python.

Metric names are any name PostgreSQL accepts as a quoted identifier (``train/loss``, ``val/acc@1``,
``lr-AdamW``): the server validates them (pgtrack._validate_metric_name). Steps are integers of
PostgreSQL's bigint range and progress a finite-or-not float; a bad one is SchemaValidationError here,
before a raw "function does not exist" could come back from the server.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from .errors import SchemaChangeError, SchemaValidationError

BIGINT = (-(2 ** 63), 2 ** 63 - 1)


def check_step(step: Any, progress: Any) -> None:
    """SchemaValidationError unless step is an int in bigint's range and progress a real number."""
    if isinstance(step, bool) or not isinstance(step, int) and not _is_integral(step):
        raise SchemaValidationError(f"step must be an integer, got {step!r}",
                                    hint="log fractional positions as progress=..., e.g. add_metrics(step=3, progress=0.5, ...)")
    if not BIGINT[0] <= int(step) <= BIGINT[1]:
        raise SchemaValidationError(f"step {step} is outside PostgreSQL's bigint range", hint="steps must fit in 64 bits")
    if isinstance(progress, bool) or not isinstance(progress, (int, float)) and not _is_real(progress):
        raise SchemaValidationError(f"progress must be a number, got {progress!r}", hint="pass progress=epoch / epochs")


def _is_integral(value: Any) -> bool:
    try:  # numpy integers and friends
        return hasattr(value, "__index__") and int(value.__index__()) == value
    except (TypeError, ValueError):
        return False


def _is_real(value: Any) -> bool:
    try:
        float(value)
        return hasattr(value, "__float__") and not isinstance(value, str)
    except (TypeError, ValueError):
        return False


@contextmanager
def python_hints(metrics: Mapping[str, Any]) -> Iterator[None]:
    """Rewrite the server's SQL hint about adding a metric into the Python call."""
    try:
        yield
    except SchemaChangeError as exc:
        names = re.findall(r"add_metric\('((?:[^']|'')*)'\)", exc.hint or "")
        if names:
            exc.hint = (f"an admin (the database owner or a pgtrack_admin member) adds it: "
                        f"client.add_metric({names[0].replace(chr(39) * 2, chr(39))!r})")
        raise

