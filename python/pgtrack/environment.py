"""``env='auto'``: the process environment minus secrets.

Dropped always: names containing PASSWORD, SECRET, TOKEN, KEY or CREDENTIAL (any case), every
``PGTRACK_DSN_*`` and ``PGPASSWORD``. ``allow`` keeps only names matching one of its glob patterns
(e.g. ``["SLURM_*", "CUDA_*"]``); ``deny`` drops more patterns. The secret rule wins over ``allow``.
"""
from __future__ import annotations

import fnmatch
import os
from typing import Dict, Iterable, Mapping, Optional

SECRET_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
ALWAYS_DENIED = ("PGTRACK_DSN_*", "PGPASSWORD")


def is_secret(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS) or \
        any(fnmatch.fnmatchcase(upper, pattern) for pattern in ALWAYS_DENIED)


def capture_env(allow: Optional[Iterable[str]] = None, deny: Optional[Iterable[str]] = None,
                environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment to record for a run (see the module docstring)."""
    environ = os.environ if environ is None else environ
    allow, deny = list(allow or ()), list(deny or ())
    return {name: value for name, value in sorted(environ.items())
            if not is_secret(name)
            and (not allow or any(fnmatch.fnmatchcase(name, p) for p in allow))
            and not any(fnmatch.fnmatchcase(name, p) for p in deny)}
