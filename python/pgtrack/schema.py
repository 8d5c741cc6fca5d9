"""``load_schema(path, client)``: apply a wallow TOML schema to the experiment named in ``[project]``.

- ``[project]``: ``name`` (required), ``description`` (the experiment's comment on creation),
  ``float_precision``, ``artefacts_root``, ``artefacts_layout`` (defaults for ``Run.artefacts_dir``).
- ``[identifying.<name>]`` → ``declare_identifying`` (types int, float, string, bool; keys ``type``,
  ``default``, ``doc``; ``nullable`` must be false and ``indexed`` is accepted: the unique key indexes them).
- ``[annotating.<name>]`` → ``add_run_column`` in the lower-cased column, with int→bigint,
  float→double precision, string/path→text, bool→boolean, json→jsonb, datetime→timestamptz
  (``indexed``, ``doc`` as the column comment). A field named like a built-in run column (status,
  comment, tags, args, env, error) maps onto that column when the types agree. ``default`` and
  ``nullable = false`` of annotating fields are accepted but not enforced (a warning says so).

Applying the same file twice changes nothing. Unknown keys, wrong types and malformed TOML raise
SchemaValidationError naming the file and the key; a column that exists with another type raises the
server's SchemaChangeError.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping

from . import _statements as sql
from .client import Client
from .errors import SchemaValidationError
from .experiment import Experiment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_KEYS = {"name", "description", "float_precision", "artefacts_root", "artefacts_layout"}
FIELD_KEYS = {"type", "default", "doc", "nullable", "indexed"}
IDENTIFYING_TYPES = {"int", "float", "string", "bool"}
COLUMN_TYPES = {"int": "bigint", "float": "double precision", "string": "text", "path": "text",
                "bool": "boolean", "json": "jsonb", "datetime": "timestamptz"}
# Built-in run columns an annotating field may map onto, and the wallow types that fit each.
BUILTIN_COLUMNS = {"status": {"string"}, "comment": {"string"}, "error": {"string"},
                   "tags": {"json"}, "args": {"json"}, "env": {"json"}}


def _fail(path: Path, key: str, problem: str) -> SchemaValidationError:
    return SchemaValidationError(f"{path}: {key}: {problem}", hint="see the load_schema documentation for the format")


def _table(path: Path, data: Mapping[str, Any], key: str) -> Dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _fail(path, key, "must be a table")
    return value


def _check_keys(path: Path, where: str, table: Mapping[str, Any], allowed: set) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(path, where, f"unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _field(path: Path, where: str, spec: Any, types: set) -> Dict[str, Any]:
    if not isinstance(spec, dict):
        raise _fail(path, where, "must be a table with at least type = ...")
    _check_keys(path, where, spec, FIELD_KEYS)
    if spec.get("type") not in types:
        raise _fail(path, f"{where}.type", f"unknown type {spec.get('type')!r}: must be one of {', '.join(sorted(types))}")
    for flag in ("nullable", "indexed"):
        if flag in spec and not isinstance(spec[flag], bool):
            raise _fail(path, f"{where}.{flag}", "must be true or false")
    if "doc" in spec and not isinstance(spec["doc"], str):
        raise _fail(path, f"{where}.doc", "must be a string")
    return spec


def parse_schema(path: Path) -> Dict[str, Any]:
    """The validated schema as a dict: project, identifying, annotating."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, "(file)", f"cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, "(file)", f"malformed TOML: {exc}") from None
    _check_keys(path, "(top level)", data, {"project", "identifying", "annotating"})
    project = _table(path, data, "project")
    _check_keys(path, "project", project, PROJECT_KEYS)
    if not isinstance(project.get("name"), str) or not project["name"].strip():
        raise _fail(path, "project.name", "is required and must be a non-empty string")
    precision = project.get("float_precision")
    if precision is not None and (type(precision) is not int or precision < 1):
        raise _fail(path, "project.float_precision", "must be a positive integer")
    for key in ("description", "artefacts_root", "artefacts_layout"):
        if key in project and (not isinstance(project[key], str) or not project[key]):
            raise _fail(path, f"project.{key}", "must be a non-empty string")
    identifying = {name: _field(path, f"identifying.{name}", spec, IDENTIFYING_TYPES)
                   for name, spec in _table(path, data, "identifying").items()}
    annotating = {name: _field(path, f"annotating.{name}", spec, set(COLUMN_TYPES))
                  for name, spec in _table(path, data, "annotating").items()}
    for name, spec in identifying.items():
        if spec.get("nullable"):
            raise _fail(path, f"identifying.{name}.nullable", "identifying fields cannot be nullable")
    both = sorted(set(identifying) & set(annotating))
    if both:
        raise _fail(path, both[0], "appears in both [identifying] and [annotating]")
    if not identifying:  # wallow: a schema without identifying fields would hold one run
        raise _fail(path, "identifying", "declares no identifying field: at least one [identifying.<name>] is needed")
    layout = project.get("artefacts_layout")
    if layout is not None:
        import string

        known = set(identifying) | {n.lower() for n in annotating} | set(annotating) | {"uuid", "id"}
        for _, placeholder, _, _ in string.Formatter().parse(layout):
            if placeholder is not None and placeholder not in known:
                raise _fail(path, "project.artefacts_layout",
                            f"unknown placeholder {{{placeholder}}}; known: {', '.join(sorted(known))}")
    return {"project": project, "identifying": identifying, "annotating": annotating}


def load_schema(path: Any, client: Client) -> Experiment:
    """Apply the schema (see the module docstring) and return the experiment, whose runs get the
    schema's artefacts defaults."""
    path = Path(path)
    schema = parse_schema(path)
    project = schema["project"]
    experiment = Experiment(client, name=project["name"], comment=project.get("description"),
                            float_precision=project.get("float_precision"))
    for name, spec in schema["identifying"].items():
        experiment.declare_identifying(name, spec["type"], spec.get("default"), spec.get("doc"))
    declared = {f.name for f in experiment.identifying_fields()}
    experiment.schema_extra_identifying = sorted(declared - set(schema["identifying"]))
    if experiment.schema_extra_identifying:
        warnings.warn(f"{path}: identifying field(s) {', '.join(experiment.schema_extra_identifying)} of experiment "
                      f"{experiment.name!r} are not in the file and were not dropped; drop one with "
                      f"experiment.drop_identifying(name)", stacklevel=2)
    for name, spec in schema["annotating"].items():
        column = name.lower()
        if column in BUILTIN_COLUMNS:
            if spec["type"] not in BUILTIN_COLUMNS[column]:
                raise _fail(path, f"annotating.{name}.type",
                            f"{name} maps onto the built-in run column {column}, which needs type "
                            f"{' or '.join(sorted(BUILTIN_COLUMNS[column]))}, not {spec['type']}")
            continue
        if "default" in spec or spec.get("nullable") is False:
            warnings.warn(f"{path}: annotating.{name}: default/nullable=false are not enforced by pgtrack", stacklevel=2)
        client.execute(sql.ADD_RUN_COLUMN, (column, COLUMN_TYPES[spec["type"]], spec.get("indexed", False), spec.get("doc")))
    experiment.schema_defaults = {k: project[k] for k in ("artefacts_root", "artefacts_layout") if k in project}
    return experiment
