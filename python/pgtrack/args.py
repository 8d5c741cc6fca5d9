"""SQLTrack's docopt helpers: command-line arguments as a JSON-safe dict to record as a run's args.

Differences from SQLTrack 0.1.4, on purpose: values are always JSON-safe (paths and complex numbers
become strings, NaN/inf become the strings "NaN"/"Infinity"/"-Infinity", repeated options stay lists
of converted values), and a command line that matches no usage string raises ValueError instead of
exiting the program. docopt is an optional dependency (``pip install "pgtrack[args]"``).
"""
from __future__ import annotations

import ast
import fnmatch
import functools
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, overload

_conversions: List[Tuple[str, Callable[[str, Any], Any]]] = []


def _docopt():
    try:
        import docopt  # docopt-ng
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('argument detection needs docopt: pip install "pgtrack[args]"') from exc
    return docopt


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (complex, Path)):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def make_conversion(pattern: str, func: Callable[[str], Any]) -> Callable[[str, Any], Any]:
    """A conversion applying ``func`` to values whose argument name matches the fnmatch ``pattern``."""
    def convert(name: str, value: Any) -> Any:
        if fnmatch.fnmatch(name, pattern):
            return func(value)
        raise ValueError(name)
    return convert


def register_conversion(name: str, func: Callable[[str, Any], Any]) -> None:
    """Register (or replace, by name) a conversion tried before the built-in trial and error."""
    global _conversions
    _conversions = [(n, f) for n, f in _conversions if n != name] + [(name, func)]


for _name, _func in (("int", int), ("float", float), ("complex", complex), ("path", Path),
                     ("json", json.loads), ("str", str)):
    register_conversion(_name, make_conversion("*" + _name, _func))


def convert_argument(name: str, value: Any) -> Any:
    """Convert one docopt value: registered conversions by name, then int, float, complex, JSON;
    a string nothing converts stays a string. Lists are converted element by element."""
    if isinstance(value, list):
        return [convert_argument(name, v) for v in value]
    if not isinstance(value, str):
        return _json_safe(value)
    for _, func in _conversions:
        try:
            return _json_safe(func(name, value))
        except (ValueError, TypeError, SyntaxError):
            pass
    for parse in (int, float, complex, json.loads):
        try:
            return _json_safe(parse(value))
        except (ValueError, TypeError):
            pass
    return value


def simplify_name(name: str) -> str:
    """``--batch-size`` -> ``batch_size``, ``<file>`` -> ``file``."""
    return name.lstrip("-").replace("-", "_").replace("<", "").replace(">", "")


@overload
def convert_arguments(args: Dict[str, Any], simplify_names: bool = True) -> Dict[str, Any]: ...


@overload
def convert_arguments(args: None, simplify_names: bool = True) -> None: ...


def convert_arguments(args: Optional[Dict[str, Any]], simplify_names: bool = True) -> Optional[Dict[str, Any]]:
    """Apply convert_argument to every value (None stays None)."""
    if args is None:
        return None
    return {(simplify_name(k) if simplify_names else k): convert_argument(simplify_name(k), v)
            for k, v in args.items()}


def docopt_parse_docstrings(docstrings: Iterable[Optional[str]], simplify_names: bool = True,
                            argv: Optional[List[str]] = None, **kwargs: Any) -> Dict[str, Any]:
    """Parse argv (default sys.argv[1:]) with the first docstring that accepts it; ValueError if none does."""
    docopt = _docopt()
    argv = sys.argv[1:] if argv is None else argv
    errors = []
    for doc in docstrings:
        if not doc:
            continue
        try:
            parsed = docopt.docopt(doc, argv=argv, default_help=False, **kwargs)
        except (docopt.DocoptExit, docopt.DocoptLanguageError, SystemExit) as exc:
            errors.append(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            continue
        return convert_arguments(dict(parsed), simplify_names)
    raise ValueError(f"the command line {argv!r} matches no usage string"
                     + (f" ({'; '.join(errors)})" if errors else " (no docstring with a usage string)"))


_DECORATORS = ("docopt_arguments", "docopt_main")


def _docstrings(path: Path) -> List[str]:
    """Docstrings of functions decorated with docopt_arguments/docopt_main, in file order, then the module's."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
                if name in _DECORATORS and (doc := ast.get_docstring(node)):
                    found.append((node.lineno, doc))
    return [doc for _, doc in sorted(found)] + [ast.get_docstring(tree) or ""]


def detect_args(path: Optional[os.PathLike] = None, argv: Optional[List[str]] = None, **kwargs: Any) -> Dict[str, Any]:
    """The arguments of the running script (or the file at ``path``), parsed with its docopt usage
    strings. Raises ValueError when nothing parses (e.g. in a notebook), never exits."""
    path = Path(path if path is not None else sys.argv[0])
    if not path.is_file():
        raise ValueError(f"cannot detect arguments: {path} is not a script file")
    return docopt_parse_docstrings(_docstrings(path), argv=argv, **kwargs)


def docopt_arguments(f: Optional[Callable] = None, main: bool = False, main_guard: bool = True, **kwargs: Any):
    """Decorator: call ``f(args)`` with the arguments parsed from its docstring (then the module's).
    ``f({...})`` merges overrides into the parsed arguments. ``main=True`` runs it at once (only
    under ``__name__ == "__main__"`` when ``main_guard``)."""
    if f is None:
        return functools.partial(docopt_arguments, main=main, main_guard=main_guard, **kwargs)

    @functools.wraps(f)
    def wrapper(overrides: Optional[Dict[str, Any]] = None):
        args = docopt_parse_docstrings([f.__doc__, f.__globals__.get("__doc__")], **kwargs)
        args.update(overrides or {})
        return f(args)

    if main and (not main_guard or f.__module__ == "__main__"):
        wrapper()
    return wrapper


def docopt_main(f: Optional[Callable] = None, main_guard: bool = True, **kwargs: Any):
    """``@docopt_arguments(main=True)``: parse and run at once (put it at the end of the script)."""
    return docopt_arguments(f, main=True, main_guard=main_guard, **kwargs)

