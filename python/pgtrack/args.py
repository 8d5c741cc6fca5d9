"""SQLTrack's docopt helpers: command-line arguments as a JSON-safe dict to record as a run's args.

The parsed arguments are a :class:`ParsedOptions`, a dict that also answers attribute access as
docopt-ng's ``ParsedOptions`` does (``args.epochs``, ``args.batch_size``, ``args.path`` for ``<path>``),
as SQLTrack returns them. Conversions registered with :func:`register_conversion` are matched against
the argument's name as docopt writes it (``--size-hw``, as SQLTrack does) and against its simplified
name (``size_hw``), and may answer in SQLTrack's form (``(value, True)`` / ``(value, False)``) or in
pgtrack's (the value, or ValueError for "not mine").

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


class ParsedOptions(Dict[str, Any]):
    """The parsed arguments: a dict (JSON-serialisable, what ``run.set_args`` stores) that answers
    attribute access by docopt-ng's rules, so SQLTrack code (``args.epochs``) runs unchanged. An
    attribute is the key of that name, else the value of a key that ``--name``/``-n`` (dashes stripped,
    inner ``-`` as ``_``) or ``<name>`` (angle brackets stripped) reduces to it, else None, as docopt-ng
    answers for an absent name. Dunder names raise AttributeError, so copy, pickle and the like see a
    plain dict. Setting an attribute does not change the dict, as in docopt-ng: write ``args["x"] = v``."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in self:
            return self[name]
        for key, value in self.items():
            if isinstance(key, str) and name in (key.lstrip("-").replace("-", "_"), key.lstrip("<").rstrip(">")):
                return value
        return None


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
    """Register a conversion ``func(argument_name, value)``, tried in registration order before the
    built-in trial and error; a name registered before is replaced in its place (as in SQLTrack).
    ``func`` says "not mine" by raising ValueError (or TypeError), or, in SQLTrack's form, by
    returning ``(value, False)``; ``(converted, True)`` or any other result is the converted value."""
    global _conversions
    if any(n == name for n, _ in _conversions):
        _conversions = [(n, func if n == name else f) for n, f in _conversions]
    else:
        _conversions = _conversions + [(name, func)]


for _name, _func in (("int", int), ("float", float), ("complex", complex), ("path", Path),
                     ("json", json.loads), ("str", str)):
    register_conversion(_name, make_conversion("*" + _name, _func))


_NOT_MINE = object()


def _apply(func: Callable[[str, Any], Any], names: Tuple[str, ...], value: str) -> Any:
    """What ``func`` makes of ``value`` under the first of ``names`` it accepts, else _NOT_MINE."""
    for name in names:
        try:
            result = func(name, value)
        except (ValueError, TypeError, SyntaxError):
            continue
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], bool):  # SQLTrack's form
            if result[1]:
                return result[0]
            continue
        return result
    return _NOT_MINE


def convert_argument(name: str, value: Any) -> Any:
    """Convert one docopt value: registered conversions by name, then int, float, complex, JSON;
    a string nothing converts stays a string. Lists are converted element by element. ``name`` may be
    docopt's key (``--size-hw``, as SQLTrack passes it) or the simplified name (``size_hw``); a
    conversion's pattern may match either."""
    if isinstance(value, list):
        return [convert_argument(name, v) for v in value]
    if not isinstance(value, str):
        return _json_safe(value)
    names = tuple(dict.fromkeys((name, simplify_name(name))))  # docopt's key first, as SQLTrack matches
    for _, func in _conversions:
        converted = _apply(func, names, value)
        if converted is not _NOT_MINE:
            return _json_safe(converted)
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
def convert_arguments(args: Dict[str, Any], simplify_names: bool = True) -> ParsedOptions: ...


@overload
def convert_arguments(args: None, simplify_names: bool = True) -> None: ...


def convert_arguments(args: Optional[Dict[str, Any]], simplify_names: bool = True) -> Optional[ParsedOptions]:
    """Apply convert_argument to every value, as a ParsedOptions (None stays None)."""
    if args is None:
        return None
    return ParsedOptions({(simplify_name(k) if simplify_names else k): convert_argument(k, v) for k, v in args.items()})


def docopt_parse_docstrings(docstrings: Iterable[Optional[str]], simplify_names: bool = True,
                            argv: Optional[List[str]] = None, **kwargs: Any) -> ParsedOptions:
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


def detect_args(path: Optional[os.PathLike] = None, argv: Optional[List[str]] = None, **kwargs: Any) -> ParsedOptions:
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

