"""SQLTrack's ``sqltrack.util``: ``coalesce(*values)`` and ``load_config(path=None)``."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from .config import resolve_params


def coalesce(*values: Any) -> Any:
    """The first value that is not None (None if there is none)."""
    return next((value for value in values if value is not None), None)


def load_config(path: Optional[os.PathLike] = None) -> Dict[str, str]:
    """The connection parameters a Client would use, less its keyword arguments: the config file
    (``path``, ``$PGTRACK_CONFIG_PATH``/``$SQLTRACK_CONFIG_PATH``, ``./pgtrack.conf``, ``./sqltrack.conf``)
    overridden by ``PGTRACK_DSN_<PARAM>`` (and SQLTrack's ``SQLTRACK_DSN_<PARAM>``) variables."""
    return resolve_params(path, {})
