"""Warnings from the tracking paths, which must never stop training.

pgtrack tells a training script what happened (the server went away, rows were saved to a file, a
metric was renamed) with a RuntimeWarning, printed once per place by Python's default filter. A
script or a test run that turns warnings into errors (``warnings.filterwarnings("error")``,
``python -W error``, ``pytest -W error``) would then have pgtrack raise in the middle of training, or
fail a run whose rows were kept. :func:`warn` prints the message on stderr instead in that case.
"""
from __future__ import annotations

import sys
import warnings


def warn(message: str, stacklevel: int = 2) -> None:
    """``warnings.warn(message, RuntimeWarning)``, or one line on stderr where that would raise."""
    try:
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)
    except Warning:
        print(f"{message} (a RuntimeWarning; printed because warnings are errors here)", file=sys.stderr)
