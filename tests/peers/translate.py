"""The one change the harness makes to a peer's code: its import statements.

Every other line runs as the peer wrote it, at the same line number (an import spread over several
lines becomes one line and blank ones). ``translate`` returns the new text and the (before, after)
pairs it changed, so a caller can show exactly what differs from the original.

- wallow: ``from wallow import`` -> ``from pgtrack import``, ``wallow.contrib.lifecycle`` ->
  ``pgtrack.contrib.lifecycle``, ``import wallow`` -> ``import pgtrack as wallow``. A name pgtrack does
  not have (``FieldDecl``) and wallow's private helpers (``wallow._paths``, ``wallow.schema``) come from
  ``wallow_private`` instead: pgtrack's equivalents under wallow's names, or a placeholder that raises
  when used, so one missing name fails the tests that use it rather than the whole file.
  ``sqlalchemy`` -> ``no_sqlalchemy`` (pgtrack has no SQLAlchemy engine; same placeholders).
- SQLTrack: ``import sqltrack`` -> ``import pgtrack as sqltrack``, ``from sqltrack[.x] import`` ->
  ``from pgtrack[.x] import``, ``import sqltrack.x`` -> ``import pgtrack.x, pgtrack as sqltrack``.

Code that does not parse (a README fragment) gets the same rules line by line, without the check for
missing names.
"""
from __future__ import annotations

import ast
import importlib
import re
from typing import List, Optional, Sequence, Tuple

LINE_RULES = {
    "wallow": [
        (r"from wallow\.contrib\.lifecycle import ", "from pgtrack.contrib.lifecycle import "),
        (r"from wallow\.(?:_paths|schema) import ", "from wallow_private import "),
        (r"from wallow import ", "from pgtrack import "),
        (r"import wallow$", "import pgtrack as wallow"),
        (r"from sqlalchemy(?:\.[\w.]+)? import ", "from no_sqlalchemy import "),
    ],
    "sqltrack": [
        (r"import sqltrack$", "import pgtrack as sqltrack"),
        (r"from sqltrack(\.[\w.]+)? import ", r"from pgtrack\1 import "),
        (r"import sqltrack(\.[\w.]+)$", r"import pgtrack\1, pgtrack as sqltrack"),
    ],
}


def _names(aliases: Sequence[ast.alias]) -> str:
    return ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)


def _from(module: str, aliases: Sequence[ast.alias], fallback: Optional[str]) -> str:
    """``from module import ...``; with a fallback module, the names ``module`` lacks come from it."""
    if fallback is None:
        return f"from {module} import {_names(aliases)}"
    target = importlib.import_module(module)
    have = [a for a in aliases if a.name == "*" or hasattr(target, a.name)]
    lack = [a for a in aliases if a not in have]
    parts = ([f"from {module} import {_names(have)}"] if have else []) + ([f"from {fallback} import {_names(lack)}"] if lack else [])
    return "; ".join(parts)


def _rewrite(node: ast.stmt, peer: str, placeholders: bool) -> Optional[str]:
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        module, names = node.module, node.names
        if peer == "wallow":
            if module == "wallow":
                return _from("pgtrack", names, "wallow_private" if placeholders else None)
            if module == "wallow.contrib.lifecycle":
                return _from("pgtrack.contrib.lifecycle", names, "wallow_private" if placeholders else None)
            if module in ("wallow._paths", "wallow.schema"):
                return _from("wallow_private", names, None)
            if module == "sqlalchemy" or module.startswith("sqlalchemy."):
                return _from("no_sqlalchemy", names, None)
        elif module == "sqltrack" or module.startswith("sqltrack."):
            return _from("pgtrack" + module[len("sqltrack"):], names, None)
    if isinstance(node, ast.Import) and any(a.name.split(".")[0] == peer for a in node.names):
        parts = []
        for a in node.names:
            if a.name == peer:
                parts.append(f"pgtrack as {a.asname or peer}")
            elif a.name.startswith(peer + "."):
                sub = "pgtrack" + a.name[len(peer):]
                parts.append(f"{sub} as {a.asname}" if a.asname else f"{sub}, pgtrack as {peer}")
            else:
                parts.append(a.name + (f" as {a.asname}" if a.asname else ""))
        return "import " + ", ".join(parts)
    return None


def _by_line(text: str, peer: str) -> Tuple[str, List[Tuple[str, str]]]:
    rules = [(re.compile(r"^(\s*)" + pattern), r"\1" + replacement) for pattern, replacement in LINE_RULES[peer]]
    lines, changed = [], []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        for pattern, replacement in rules:
            new, count = pattern.subn(replacement, body, count=1)
            if count:
                changed.append((body, new))
                line = new + line[len(body):]
                break
        lines.append(line)
    return "".join(lines), changed


def translate(text: str, peer: str, placeholders: bool = True) -> Tuple[str, List[Tuple[str, str]]]:
    """``text`` with the peer's import statements rewritten; and the (before, after) pairs. With
    ``placeholders=False`` a name pgtrack lacks stays a ``from pgtrack import`` (an ImportError)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return _by_line(text, peer)
    lines = text.splitlines(keepends=True)
    changed = []
    for node in ast.walk(tree):
        new = _rewrite(node, peer, placeholders) if isinstance(node, (ast.Import, ast.ImportFrom)) else None
        if new is None:
            continue
        first, last = node.lineno - 1, node.end_lineno - 1
        before = "".join(lines[first:last + 1])
        indent, rest = lines[first][:node.col_offset], lines[last][node.end_col_offset:]
        if indent.strip() or rest.strip():  # shares a line with another statement: rewrite the line instead
            return _by_line(text, peer)
        lines[first] = indent + new + "\n"
        for i in range(first + 1, last + 1):
            lines[i] = "\n"
        changed.append((before.rstrip("\n"), new))
    return "".join(lines), changed
