"""Artefact directories: ``root / layout-with-{fields} / *parts``, never outside ``root``.

Each substituted value and each extra part is sanitised to ``[A-Za-z0-9._-]`` (NFKD, then runs of
anything else become ``_``, leading/trailing ``.`` and ``_`` stripped); a value that sanitises to
nothing is an error. The layout's literal text may hold ``/`` separators but no ``..``, ``.`` or empty
segment, no absolute path, no backslash and no NUL. Finally the resolved path (symlinks followed) is
checked to lie inside the resolved root. Sanitising is lossy (``a b`` and ``a/b`` both give ``a_b``), so
keep ``{uuid}`` in layouts where distinct runs must get distinct directories.
"""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def sanitise_for_path(value: Any) -> str:
    """One safe path component from any value; ValueError if nothing is left."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    if not text:
        raise ValueError(f"{value!r} sanitises to an empty path component")
    return text


def _check_literal(layout: str) -> None:
    if "\x00" in layout or "\\" in layout:
        raise ValueError(f"artefacts layout {layout!r} must not contain NUL or backslashes")
    if layout.startswith("/") or re.match(r"^[A-Za-z]:", layout):
        raise ValueError(f"artefacts layout {layout!r} must be relative to the root")
    literal = _PLACEHOLDER.sub("x", layout)
    if "{" in literal or "}" in literal:
        raise ValueError(f"artefacts layout {layout!r} has a malformed placeholder; use {{field}}")
    if any(segment in ("", ".", "..") for segment in literal.split("/")):
        raise ValueError(f"artefacts layout {layout!r} has an empty, '.' or '..' segment")


def substitute_layout(layout: str, values: Mapping[str, Any]) -> str:
    """The layout with every ``{name}`` replaced by the sanitised value."""
    _check_literal(layout)

    def value_of(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in values or values[name] is None:
            raise ValueError(f"artefacts layout {layout!r}: run has no value for {{{name}}}")
        return sanitise_for_path(values[name])

    return _PLACEHOLDER.sub(value_of, layout)


def artefacts_path(root: Union[str, os.PathLike], layout: str, values: Mapping[str, Any],
                   parts: Iterable[Any] = (), mkdir: bool = False) -> Path:
    """``root / substituted layout / sanitised parts``, proven to stay inside ``root``."""
    if root is None or str(root) == "" or "\x00" in str(root):
        raise ValueError("artefacts_dir needs a root directory (argument, or artefacts_root in the schema)")
    base = Path(root).expanduser().resolve()
    path = base.joinpath(substitute_layout(layout, values), *(sanitise_for_path(p) for p in parts))
    resolved = path.resolve()
    if os.path.commonpath([str(base), str(resolved)]) != str(base):
        raise ValueError(f"artefacts path {resolved} would escape the root {base}")
    if mkdir:
        resolved.mkdir(parents=True, exist_ok=True)
    return resolved
