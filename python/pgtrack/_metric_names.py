"""Steps checked on the Python side (metric names are checked by the server).

Metric names are any name PostgreSQL accepts as a quoted identifier (``train/loss``, ``val/acc@1``,
``lr-AdamW``): the server validates them (pgtrack._validate_metric_name). Steps are integers of
PostgreSQL's bigint range and progress a finite-or-not float; a bad one is SchemaValidationError here,
before a raw "function does not exist" could come back from the server.
"""
from __future__ import annotations

from typing import Any

from .errors import SchemaValidationError

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


# Names a metric column can never have: pgtrack.metrics' own columns and PostgreSQL's system columns
# (the server refuses them with PT003; sql/10_internal/names.sql).
RESERVED_METRIC_NAMES = frozenset({"run_id", "step", "progress", "experiment_id",
                                   "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})


def storable_name(name: str) -> str:
    """A framework's metric name as a column can hold it: a reserved name gets a trailing "_"
    (``step`` -> ``step_``), the mapping the integrations document; any other name as it is."""
    return f"{name}_" if name in RESERVED_METRIC_NAMES else name

