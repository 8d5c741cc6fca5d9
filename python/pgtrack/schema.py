"""``load_schema(path)`` and ``load_schema(path, client)``: a wallow TOML schema.

- ``load_schema(path)`` reads and checks the file and returns a :class:`Schema` (nothing touches a
  database yet); ``pgtrack.Store("runs.db", schema=schema)`` or ``schema.apply(client)`` applies it.
- ``load_schema(path, client)`` applies it at once and returns the Experiment, as ``schema.apply``.

Applying it sets up the experiment named in ``[project]`` (the same name gives the same experiment
every time):

- ``[project]``: ``name`` (required), ``description`` (the experiment's comment on creation),
  ``float_precision``, ``artefacts_root``, ``artefacts_layout`` (defaults for ``Run.artefacts_dir``).
- ``[identifying.<name>]`` → ``declare_identifying`` (types int, float, string, bool; keys ``type``,
  ``default``, ``doc``; ``nullable`` must be false and ``indexed`` is accepted: the unique key indexes them).
- ``[annotating.<name>]`` → ``add_run_column`` in the lower-cased column, with int→bigint,
  float→double precision, string/path→text, bool→boolean, json→jsonb, datetime→timestamptz
  (``indexed``, ``doc`` as the column comment). A field named like a built-in run column (status,
  comment, tags, args, env, error) maps onto that column when the types agree. ``default`` and
  ``nullable = false`` of annotating fields are accepted but not enforced (a warning says so).

Applying the same file twice changes nothing. Unknown keys, wrong types, defaults of the wrong type
and malformed TOML raise SchemaParseError (a SchemaValidationError) naming the file and the key, with
wallow's phrases ("unknown type", "not allowed for identifying fields", "not coercible", "bool, not
int", "NOT NULL", "at least one identifying field"); a column that exists with another type raises the
server's SchemaChangeError.
"""
from __future__ import annotations

import datetime as _dt
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, overload

from . import _statements as sql
from .client import Client
from .errors import SchemaParseError
from .experiment import Experiment
from .query import Fields, UnknownField

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


# The run columns every pgtrack database has, which queries may name besides the file's fields.
BUILTIN_FIELDS = ("id", "uuid", "status", "attempt", "time_created", "time_started", "time_updated", "time_finished",
                  "comment", "tags", "args", "env", "error", "worker")
# What a default of each type must be (wallow's rule): a bool is not an int, an int is a float.
DEFAULT_TYPES: Dict[str, Tuple[type, ...]] = {"int": (int,), "float": (int, float), "string": (str,), "path": (str,),
                                              "bool": (bool,), "datetime": (_dt.datetime,)}


def _fail(path: Path, key: str, problem: str) -> SchemaParseError:
    return SchemaParseError(f"{path}: {key}: {problem}", hint="see the load_schema documentation for the format")


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
    if spec.get("type") in set(COLUMN_TYPES) - types:
        raise _fail(path, f"{where}.type", f"type {spec['type']!r} is not allowed for identifying fields: "
                                           f"must be one of {', '.join(sorted(types))}")
    if spec.get("type") not in types:
        raise _fail(path, f"{where}.type", f"unknown type {spec.get('type')!r}: must be one of {', '.join(sorted(types))}")
    if "default" in spec:
        spec = dict(spec, default=_default(path, f"{where}.default", spec["type"], spec["default"]))
    for flag in ("nullable", "indexed"):
        if flag in spec and not isinstance(spec[flag], bool):
            raise _fail(path, f"{where}.{flag}", "must be true or false")
    if "doc" in spec and not isinstance(spec["doc"], str):
        raise _fail(path, f"{where}.doc", "must be a string")
    return spec


def _default(path: Path, where: str, kind: str, value: Any) -> Any:
    """The default as the field's type holds it (an int for a float field becomes a float), else
    SchemaParseError in wallow's words."""
    allowed = DEFAULT_TYPES.get(kind)
    if allowed is None:  # json: any TOML value
        return value
    if isinstance(value, bool) and bool not in allowed:
        raise _fail(path, where, f"default {value!r} is a bool, not {kind}")
    if kind == "float" and isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, allowed):
        raise _fail(path, where, f"default {value!r} ({type(value).__name__}) is not coercible to {kind}")
    return value


RESERVED_NAMES = frozenset(("id", "uuid", "created_at", "updated_at"))


def parse_schema(path: Path) -> Dict[str, Any]:
    """The validated schema as a dict: project, identifying, annotating."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, "(file)", f"cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, "(file)", f"malformed TOML: {exc}") from None
    _check_keys(path, "(top level)", data, {"project", "identifying", "annotating"})
    if "project" not in data:  # wallow's words
        raise _fail(path, "project", "missing required [project] table (with name = \"...\")")
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
            raise _fail(path, f"identifying.{name}.nullable", "identifying fields cannot be nullable: they must be NOT NULL")
    for table, fields in (("identifying", identifying), ("annotating", annotating)):
        for name in fields:  # a run's own attributes (run.id, run.uuid) would hide such a field: wallow's rule
            if name.lower() in RESERVED_NAMES or name.lower().startswith("_wallow_"):
                raise _fail(path, f"{table}.{name}", f"is a reserved name ({', '.join(sorted(RESERVED_NAMES))}, _wallow_*)")
    both = sorted(set(identifying) & set(annotating))
    if both:
        raise _fail(path, both[0], "appears in both [identifying] and [annotating]")
    if not identifying:  # wallow: a schema without identifying fields would hold one run
        raise _fail(path, "identifying", "declares no identifying field: at least one identifying field "
                                         "([identifying.<name>]) is needed")
    layout = project.get("artefacts_layout")
    if layout is not None:
        import string

        known = set(identifying) | {n.lower() for n in annotating} | set(annotating) | {"uuid", "id"}
        for _, placeholder, _, _ in string.Formatter().parse(layout):
            if placeholder is not None and placeholder not in known:
                raise _fail(path, "project.artefacts_layout",
                            f"unknown placeholder {{{placeholder}}}; known: {', '.join(sorted(known))}")
    return {"project": project, "identifying": identifying, "annotating": annotating}


class Schema:
    """A schema file, read and checked, not yet applied: what ``load_schema(path)`` returns (wallow's
    Schema). ``pgtrack.Store(db, schema=schema)`` and ``schema.apply(client)`` apply it.

    ``name`` is ``[project].name`` (the experiment), ``identifying``/``annotating`` the fields as
    declared (name -> table), ``float_precision``, ``artefacts_root`` (None when unset) and
    ``artefacts_layout`` (``"{uuid}"``) as wallow's Schema has them. ``schema.f.<name>`` and
    ``F(name, schema=schema)`` check a name against the file's fields and the built-in run columns."""

    def __init__(self, path: Path, parsed: Mapping[str, Any]):
        self.path = path
        self.project: Dict[str, Any] = dict(parsed["project"])
        self.identifying: Dict[str, Dict[str, Any]] = dict(parsed["identifying"])
        self.annotating: Dict[str, Dict[str, Any]] = dict(parsed["annotating"])

    def __repr__(self) -> str:
        return f"<pgtrack.Schema {self.name!r} from {str(self.path)!r}>"

    @property
    def name(self) -> str:
        return self.project["name"]

    @property
    def description(self) -> Optional[str]:
        return self.project.get("description")

    @property
    def float_precision(self) -> int:
        return self.project.get("float_precision", 12)

    @property
    def artefacts_root(self) -> Optional[str]:
        return self.project.get("artefacts_root")

    @property
    def artefacts_layout(self) -> str:
        return self.project.get("artefacts_layout", "{uuid}")

    # -- names, for F(name, schema=...) and schema.f (pgtrack.query) --------------------------------

    def names(self) -> List[str]:
        return sorted(set(self.identifying) | set(self.annotating) | set(BUILTIN_FIELDS))

    def resolve(self, name: str) -> Tuple[str, str, str]:
        """("identifying" | "column", stored name, type), as the query's catalog answers it; an
        unknown name is SchemaValidationError with ``.field`` and ``.valid_names``."""
        if name in self.identifying:
            return "identifying", name, self.identifying[name]["type"]
        if name in self.annotating:
            return "column", name.lower(), self.annotating[name]["type"]
        if name in BUILTIN_FIELDS:
            return "column", name, "builtin"
        raise UnknownField(name, self.names())

    @property
    def f(self) -> Any:
        """``schema.f.<name>``: a Field checked at once (AttributeError for a typo); ``dir()`` lists them."""
        return Fields(self)

    # -- applying it --------------------------------------------------------------------------------

    def apply(self, client: Client) -> Experiment:
        """Set up the experiment ``[project].name`` (see the module docstring) and return it; its runs
        get the schema's artefacts defaults. Safe to repeat."""
        path, project = self.path, self.project
        experiment = Experiment(client, name=project["name"], comment=project.get("description"),
                                float_precision=project.get("float_precision"))
        for name, spec in self.identifying.items():
            experiment.declare_identifying(name, spec["type"], spec.get("default"), spec.get("doc"))
        declared = {f.name for f in experiment.identifying_fields()}
        experiment.schema_extra_identifying = sorted(declared - set(self.identifying))
        if experiment.schema_extra_identifying:
            warnings.warn(f"{path}: identifying field(s) {', '.join(experiment.schema_extra_identifying)} of experiment "
                          f"{experiment.name!r} are not in the file and were not dropped; drop one with "
                          f"experiment.drop_identifying(name)", stacklevel=3)
        for name, spec in self.annotating.items():
            column = name.lower()
            if column in BUILTIN_COLUMNS:
                if spec["type"] not in BUILTIN_COLUMNS[column]:
                    raise _fail(path, f"annotating.{name}.type",
                                f"{name} maps onto the built-in run column {column}, which needs type "
                                f"{' or '.join(sorted(BUILTIN_COLUMNS[column]))}, not {spec['type']}")
                continue
            if "default" in spec or spec.get("nullable") is False:
                warnings.warn(f"{path}: annotating.{name}: default/nullable=false are not enforced by pgtrack", stacklevel=3)
            client.execute(sql.ADD_RUN_COLUMN, (column, COLUMN_TYPES[spec["type"]], spec.get("indexed", False), spec.get("doc")))
        experiment.schema_defaults = {k: project[k] for k in ("artefacts_root", "artefacts_layout") if k in project}
        return experiment


@overload
def load_schema(path: Any) -> Schema: ...


@overload
def load_schema(path: Any, client: None) -> Schema: ...


@overload
def load_schema(path: Any, client: Client) -> Experiment: ...


def load_schema(path: Any, client: Optional[Client] = None) -> Any:
    """Read and check the schema file. Without a client: the :class:`Schema` (wallow's form, for
    ``pgtrack.Store(db, schema=...)``); with one: apply it and return the Experiment."""
    schema = Schema(Path(path), parse_schema(Path(path)))
    return schema if client is None else schema.apply(client)
