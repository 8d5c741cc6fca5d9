"""The public names of a peer's package, read from its sdist's source with ``ast`` (never imported or
run): what code written for the peer can reach after ``import sqltrack`` / ``from wallow import ...``.

For each module: the names in its ``__all__``, its top-level functions, classes and assignments, and
what it imports from its own package (``from .x import a``; ``from .x import *`` adds x's ``__all__``,
or else x's names),
except names starting with ``_``. For each such class:
the methods, properties and class attributes its body defines (not ``_`` ones), as ``Class.member``.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set


def _module_name(package_dir: Path, path: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _all(tree: ast.Module) -> Optional[List[str]]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def _members(node: ast.ClassDef) -> List[str]:
    found = []
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(item.name)
        elif isinstance(item, ast.Assign):
            found += [t.id for t in item.targets if isinstance(t, ast.Name)]
        elif isinstance(item, ast.AnnAssign) and item.value is not None and isinstance(item.target, ast.Name):
            found.append(item.target.id)
    return [name for name in found if not name.startswith("_")]


def public_names(package_dir: Path, modules: List[str]) -> Dict[str, List[str]]:
    """module -> sorted names (``Class.member`` for members) of each module named in ``modules``."""
    trees = {_module_name(package_dir, p): ast.parse(p.read_text()) for p in sorted(package_dir.rglob("*.py"))}
    classes: Dict[str, List[str]] = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                classes.setdefault(node.name, _members(node))

    def exported(module: str) -> Set[str]:
        tree = trees[module]
        found = set(_all(tree) or ())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                sibling = f"{module}.{node.module}" if f"{module}.{node.module}" in trees else f"{module.rsplit('.', 1)[0]}.{node.module}"
                stars = [a for a in node.names if a.name == "*"]
                found |= (set(_all(trees[sibling]) or exported(sibling)) if stars  # a star import takes __all__ when there is one
                          else {a.asname or a.name for a in node.names})
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.add(node.name)
            elif isinstance(node, ast.Assign):
                found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        return {name for name in found if not name.startswith("_")}

    result = {}
    for module in modules:
        names = exported(module)
        result[module] = sorted(names | {f"{n}.{m}" for n in names if n in classes for m in classes[n]})
    return result
