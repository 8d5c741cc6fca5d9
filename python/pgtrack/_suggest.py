""""Did you mean": the closest known names to a mistyped one, for errors and the CLI."""
from __future__ import annotations

import difflib
from typing import Iterable, Optional, overload


def close_matches(word: str, known: Iterable[str], n: int = 3):
    return difflib.get_close_matches(word, list(known), n=n, cutoff=0.6)


@overload
def suggest(word: str, known: Iterable[str], otherwise: str) -> str: ...  # with ``otherwise``, always a text


@overload
def suggest(word: str, known: Iterable[str], otherwise: None = None) -> Optional[str]: ...


def suggest(word: str, known: Iterable[str], otherwise: Optional[str] = None) -> Optional[str]:
    """'did you mean X?' (or 'X or Y'), else ``otherwise``."""
    found = close_matches(word, known)
    if found:
        return "did you mean " + " or ".join(repr(f) for f in found) + "?"
    return otherwise
