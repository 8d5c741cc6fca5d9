"""Optional dependencies: a missing one is an ImportError naming the pip install that brings it."""
from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str = "analysis") -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is needed for this: pip install \"pgtrack[{extra}]\" "
                          f"(or pip install {module.split('.')[0]})") from exc
