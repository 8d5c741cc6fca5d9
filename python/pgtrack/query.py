"""wallow's query DSL over pgtrack's runs: ``F``, fields, expressions and ``Query``.

    from pgtrack import F
    top = (experiment.where((F("optimiser") == "adamw") & (F("status") == "completed"))
                     .order_by(F("val_accuracy").desc(), F("val_loss").asc())
                     .limit(10).all())

Names resolve against the experiment when the query runs: its identifying fields (stored in
``runs.identity``), the run columns (annotating columns added with add_run_column or load_schema, and
the built-ins id, uuid, status, attempt, time_created, time_started, time_updated, time_finished,
comment, tags, args, env, error, worker). An unknown name is SchemaValidationError with ``.field`` and
``.valid_names``. ``F(name, schema=experiment)`` and ``experiment.f.name`` check at once.

Each query is one SQL statement: names come from the catalog and reach SQL as quoted identifiers
(columns) or as parameters (JSON keys and paths); values travel only as query parameters. Float values compared with an identifying float
field are normalised by pgtrack's own rule (the experiment's float_precision), so ``F("lr") == 0.1 + 0.2``
finds the run registered at 0.3. Differences from wallow on SQLite, on purpose: ``contains``/
``startswith``/``endswith`` are case-sensitive and treat ``%``/``_`` literally (SQLite's LIKE is
case-insensitive and treats them as wildcards); statuses are pgtrack's enum, compared in any spelling
(``"completed"``, ``"done"``).
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import TYPE_CHECKING, Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from psycopg import sql as _sql

from ._identity import typed_identity
from ._sqlparts import ident
from .errors import SchemaValidationError
from .run import WALLOW_COLUMNS, Run
from .status import Status, status_name

if TYPE_CHECKING:
    from .experiment import Experiment

# run column types -> the DSL's kinds
_KINDS = {"bigint": "int", "integer": "int", "smallint": "int", "double precision": "float", "real": "float",
          "numeric": "float", "text": "string", "character varying": "string", "boolean": "bool", "jsonb": "json",
          "json": "json", "timestamp with time zone": "datetime", "timestamp without time zone": "datetime",
          "uuid": "uuid", "pgtrack.runstatus": "status"}
_IDENTIFYING_CASTS = {"int": "bigint", "float": "double precision", "bool": "boolean"}


class UnknownField(SchemaValidationError):
    def __init__(self, field: str, valid_names: Sequence[str]):
        super().__init__(f"unknown field {field!r}: not an identifying or annotating field of this experiment",
                         hint="valid names: " + ", ".join(valid_names))
        self.field = field
        self.valid_names = list(valid_names)


class Schema:
    """The names a query may use, and their kinds, for one experiment (read from the catalog)."""

    def __init__(self, experiment: "Experiment"):
        client = experiment.client
        self.experiment = experiment
        self.identifying = {name: kind for name, kind in client.execute(
            "SELECT name, type FROM pgtrack.identifying_fields WHERE experiment_id = %s", (experiment.id,))}
        self.columns = {name: _KINDS.get(kind, "other") for name, kind in client.execute(
            "SELECT attname::pg_catalog.text, pg_catalog.format_type(atttypid, NULL) FROM pg_catalog.pg_attribute "
            "WHERE attrelid OPERATOR(pg_catalog.=) 'pgtrack.runs'::pg_catalog.regclass "
            "AND attnum > 0 AND NOT attisdropped")}
        self.columns.pop("identity", None)
        self.columns.pop("experiment_id", None)
        self.precision = client.value("SELECT float_precision FROM pgtrack.experiments WHERE id = %s", (experiment.id,))
        self.params: List[Any] = []

    def param(self, value: Any) -> _sql.Composable:
        """A placeholder for ``value``, which travels as a query parameter (never inside the SQL text)."""
        self.params.append(value)
        return _sql.Placeholder()

    def names(self) -> List[str]:
        return sorted(set(self.identifying) | set(self.columns))

    def resolve(self, name: str) -> Tuple[str, str, str]:
        """("identifying" | "column", stored name, kind); wallow's upper-case annotating names reach
        their lower-case column."""
        if name in self.identifying:
            return "identifying", name, self.identifying[name]
        for candidate in (name, name.lower(), WALLOW_COLUMNS.get(name, name)):
            if candidate in self.columns:
                return "column", candidate, self.columns[candidate]
        raise UnknownField(name, self.names())


def _schema_of(thing: Any) -> Any:
    """What names are checked against: a Schema as it is; anything else that answers ``names()`` and
    ``resolve(name)`` (a schema file, pgtrack.schema.Schema) as it is; an Experiment, or a Store
    (its ``experiment``), through the catalog."""
    if isinstance(thing, Schema):
        return thing
    if callable(getattr(thing, "names", None)) and callable(getattr(thing, "resolve", None)):
        return thing
    return Schema(getattr(thing, "experiment", None) or thing)


class Fields:
    """``experiment.f.<name>`` (or ``schema.f.<name>`` of a schema file): a Field checked at once
    (AttributeError for an unknown name)."""

    def __init__(self, experiment: Any):
        object.__setattr__(self, "_schema", _schema_of(experiment))

    def __getattr__(self, name: str) -> "Field":
        schema = object.__getattribute__(self, "_schema")
        if name.startswith("_") or name not in schema.names():
            raise AttributeError(f"no field {name!r}; fields: {', '.join(schema.names())}")
        return Field(name)

    def __dir__(self) -> List[str]:
        return object.__getattribute__(self, "_schema").names()


def F(name: str, schema: Any = None) -> "Field":
    """A field of the runs; with ``schema`` (an Experiment, e.g. what load_schema returns) the name
    is checked now, else when the query runs."""
    if not isinstance(name, str):
        raise TypeError(f"F() takes a field name, got {type(name).__name__}")
    if schema is not None:
        _schema_of(schema).resolve(name)
    return Field(name)


class Expr:
    """A boolean expression; combine with ``&``, ``|`` and ``~``."""

    def __and__(self, other: "Expr") -> "Expr":
        return _Bool("AND", self, _expr(other))

    def __or__(self, other: "Expr") -> "Expr":
        return _Bool("OR", self, _expr(other))

    def __invert__(self) -> "Expr":
        return _Not(self)

    def __bool__(self) -> bool:
        raise TypeError("a query expression has no truth value: combine with & | ~, and parenthesise comparisons "
                        "((F('k') == 4) & (F('v') > 0.85))")

    def compile(self, schema: Schema) -> _sql.Composable:
        raise NotImplementedError


def _expr(value: Any) -> Expr:
    if not isinstance(value, Expr):
        raise TypeError(f"expected a query expression, got {type(value).__name__}")
    return value


class _Bool(Expr):
    def __init__(self, op: str, left: Expr, right: Expr):
        self.op, self.left, self.right = op, left, right

    def compile(self, schema: Schema) -> _sql.Composable:
        return _sql.SQL("({} {} {})").format(self.left.compile(schema), _sql.SQL(self.op), self.right.compile(schema))


class _Not(Expr):
    def __init__(self, inner: Expr):
        self.inner = inner

    def compile(self, schema: Schema) -> _sql.Composable:
        return _sql.SQL("(NOT {})").format(self.inner.compile(schema))


class _Const(Expr):
    def __init__(self, value: bool):
        self.value = value

    def compile(self, schema: Schema) -> _sql.Composable:
        return _sql.SQL("TRUE" if self.value else "FALSE")


class OrderClause:
    def __init__(self, field: "Field", descending: bool):
        self.field, self.descending = field, descending

    def compile(self, schema: Schema) -> _sql.Composable:
        # NULLs first ascending, last descending: as wallow on SQLite orders them
        direction = "DESC NULLS LAST" if self.descending else "ASC NULLS FIRST"
        return _sql.SQL("{} {}").format(self.field.value_sql(schema, for_order=True), _sql.SQL(direction))


class Field:
    """A named field, optionally a path into a JSON field (``json_path("a.b")``)."""

    __hash__ = None  # type: ignore[assignment]  # == builds an expression, so a Field cannot be a dict key

    def __init__(self, name: str, json_path: Tuple[str, ...] = ()):
        self.name = name
        self._json_path = json_path

    def __repr__(self) -> str:
        return f"F({self.name!r})" + (f".json_path({'.'.join(self._json_path)!r})" if self._json_path else "")

    # -- SQL of the value -------------------------------------------------------------------------

    def _resolved(self, schema: Schema) -> Tuple[str, str, str]:
        where, stored, kind = schema.resolve(self.name)
        if self._json_path and kind != "json":
            raise SchemaValidationError(f"json_path on the non-JSON field {self.name!r} ({kind})",
                                        hint="json_path applies to json fields (and args, env, tags)")
        return where, stored, ("jsonpath" if self._json_path else kind)

    def value_sql(self, schema: Schema, for_order: bool = False, cast: Optional[str] = None) -> _sql.Composable:
        where, stored, kind = self._resolved(schema)
        if where == "identifying":
            text = _sql.SQL("(r.identity ->> {})").format(schema.param(stored))
            return _sql.SQL("({}::{})").format(text, _sql.SQL(_IDENTIFYING_CASTS[kind])) if kind in _IDENTIFYING_CASTS else text
        column = _sql.SQL("r.{}").format(ident(stored))
        if kind == "jsonpath":
            if cast == "numeric":  # a JSON number as float8, anything else NULL
                return _sql.SQL("(CASE WHEN jsonb_typeof({} #> {}) = 'number' THEN ({} #>> {})::float8 END)").format(
                    column, schema.param(list(self._json_path)), column, schema.param(list(self._json_path)))
            return _sql.SQL("({} #> {})").format(column, schema.param(list(self._json_path)))
        if kind == "status":
            return _sql.SQL("{}::text").format(column)
        if kind == "uuid":
            return _sql.SQL("{}::text").format(column)
        return column

    # -- comparisons -------------------------------------------------------------------------------

    def _compare(self, op: str, value: Any) -> Expr:
        return _Compare(self, op, value)

    def __eq__(self, value: Any) -> Expr:  # type: ignore[override]
        return _Null(self, True) if value is None else self._compare("=", value)

    def __ne__(self, value: Any) -> Expr:  # type: ignore[override]
        return _Null(self, False) if value is None else self._compare("<>", value)

    def __lt__(self, value: Any) -> Expr:
        return self._compare("<", value)

    def __le__(self, value: Any) -> Expr:
        return self._compare("<=", value)

    def __gt__(self, value: Any) -> Expr:
        return self._compare(">", value)

    def __ge__(self, value: Any) -> Expr:
        return self._compare(">=", value)

    def in_(self, values: Iterable[Any]) -> Expr:
        values = list(values)
        return _In(self, values, False) if values else _Const(False)

    def not_in(self, values: Iterable[Any]) -> Expr:
        values = list(values)
        return _In(self, values, True) if values else _Const(True)

    def contains(self, text: str) -> Expr:
        return _Text(self, "contains", text)

    def startswith(self, text: str) -> Expr:
        return _Text(self, "startswith", text)

    def endswith(self, text: str) -> Expr:
        return _Text(self, "endswith", text)

    def is_null(self) -> Expr:
        return _Null(self, True)

    def is_not_null(self) -> Expr:
        return _Null(self, False)

    def json_path(self, path: str) -> "Field":
        parts = tuple(p for p in str(path).split(".") if p != "")
        if not parts:
            raise SchemaValidationError(f"empty json_path {path!r}", hint="pass keys separated by dots, e.g. 'a.b'")
        return Field(self.name, self._json_path + parts)

    def asc(self) -> OrderClause:
        return OrderClause(self, False)

    def desc(self) -> OrderClause:
        return OrderClause(self, True)


def _coerce(field: Field, kind: str, value: Any) -> Any:
    """The value as the field's kind takes it (wallow's rules), else SchemaValidationError."""
    def refuse(expected: str) -> SchemaValidationError:
        shown = "string" if kind == "status" else kind
        return SchemaValidationError(f"cannot compare {shown} field {field.name!r} with {type(value).__name__} {value!r}: "
                                     f"value not coercible to {expected}", hint=f"pass a {expected} value")
    if kind == "jsonpath":
        return value
    if kind == "int":
        if type(value) is not int:
            raise refuse("int")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse("float")
        return float(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise refuse("bool")
    if kind in ("string", "uuid"):
        if not isinstance(value, str):
            raise refuse("string")
        return value
    if kind == "status":
        if not isinstance(value, str):
            raise refuse("string")
        return status_name(value)
    if kind == "datetime":
        if not isinstance(value, _dt.datetime) or value.tzinfo is None:
            raise refuse("a timezone-aware datetime")
        return value
    if kind == "json":
        return json.dumps(value)
    raise SchemaValidationError(f"field {field.name!r} ({kind}) cannot be compared", hint="compare it in SQL")


class _Compare(Expr):
    def __init__(self, field: Field, op: str, value: Any):
        self.field, self.op, self.value = field, op, value

    def compile(self, schema: Schema) -> _sql.Composable:
        where, stored, kind = self.field._resolved(schema)
        value = _coerce(self.field, kind, self.value)
        if kind == "jsonpath":
            if isinstance(value, (int, float)) and not isinstance(value, bool) and self.op not in ("=", "<>"):
                left = self.field.value_sql(schema, cast="numeric")
                return _sql.SQL("({} {} {})").format(left, _sql.SQL(self.op), schema.param(float(value)))
            left = self.field.value_sql(schema)
            return _sql.SQL("({} {} {}::jsonb)").format(left, _sql.SQL(self.op), schema.param(json.dumps(value)))
        if kind == "json":
            return _sql.SQL("({} {} {}::jsonb)").format(self.field.value_sql(schema), _sql.SQL(self.op), schema.param(value))
        left = self.field.value_sql(schema)  # placeholders in order: the field's first, then the value's
        right = _normalised(schema, stored, value) if where == "identifying" and kind == "float" else _typed(schema, kind, value)
        return _sql.SQL("({} {} {})").format(left, _sql.SQL(self.op), right)


def _normalised(schema: Schema, field: str, value: float) -> _sql.Composable:
    """A float as register() stores it for this experiment (pgtrack's normalisation rule)."""
    return _sql.SQL("(pgtrack._normalize_value({}, 'float', to_jsonb({}::float8), {}) #>> '{{}}')::float8").format(
        schema.param(field), schema.param(value), schema.param(schema.precision))


_CASTS = {"int": "bigint", "float": "float8", "bool": "boolean", "string": "text", "uuid": "text", "status": "text",
          "datetime": "timestamptz"}


def _typed(schema: Schema, kind: str, value: Any) -> _sql.Composable:
    return _sql.SQL("{}::{}").format(schema.param(value), _sql.SQL(_CASTS[kind]))


class _In(Expr):
    def __init__(self, field: Field, values: List[Any], negate: bool):
        self.field, self.values, self.negate = field, values, negate

    def compile(self, schema: Schema) -> _sql.Composable:
        where, stored, kind = self.field._resolved(schema)
        if any(v is None for v in self.values):
            raise SchemaValidationError(f"None in in_()/not_in() on {self.field.name!r}",
                                        hint="use is_null() / is_not_null() for missing values")
        items = [_coerce(self.field, kind, v) for v in self.values]
        value = self.field.value_sql(schema)  # placeholders in order: the field's first
        rendered: List[_sql.Composable]
        if kind in ("json", "jsonpath"):
            rendered = [_sql.SQL("{}::jsonb").format(schema.param(v if kind == "json" else json.dumps(v))) for v in items]
        elif where == "identifying" and kind == "float":
            rendered = [_normalised(schema, stored, v) for v in items]
        else:
            rendered = [_typed(schema, kind, v) for v in items]
        return _sql.SQL("({} {} ({}))").format(value, _sql.SQL("NOT IN" if self.negate else "IN"), _sql.SQL(", ").join(rendered))


class _Text(Expr):
    def __init__(self, field: Field, how: str, text: str):
        self.field, self.how, self.text = field, how, text

    def compile(self, schema: Schema) -> _sql.Composable:
        _, _, kind = self.field._resolved(schema)
        if kind not in ("string", "status"):
            raise SchemaValidationError(f"{self.how}() is not valid on {kind} field {self.field.name!r}",
                                        hint="contains/startswith/endswith apply to string and path fields")
        if not isinstance(self.text, str):
            raise SchemaValidationError(f"{self.how}() takes a str, got {type(self.text).__name__}")
        value, text = self.field.value_sql(schema), self.text
        if kind == "status":  # pgtrack's labels are upper case; wallow's statuses were whatever was written
            value, text = _sql.SQL("lower({})").format(value), text.lower()
        if self.how == "contains":
            return _sql.SQL("(strpos({}, {}::text) > 0)").format(value, schema.param(text))
        if self.how == "startswith":
            return _sql.SQL("starts_with({}, {}::text)").format(value, schema.param(text))
        return _sql.SQL("(right({}, char_length({}::text)) = {}::text)").format(value, schema.param(text), schema.param(text))


class _Null(Expr):
    def __init__(self, field: Field, is_null: bool):
        self.field, self.is_null = field, is_null

    def compile(self, schema: Schema) -> _sql.Composable:
        where, stored, kind = self.field._resolved(schema)
        value = self.field.value_sql(schema)
        if kind == "jsonpath":
            value = _sql.SQL("nullif({}, 'null'::jsonb)").format(value)
        return _sql.SQL("({} IS {})").format(value, _sql.SQL("NULL" if self.is_null else "NOT NULL"))


class Query:
    """Immutable and chainable: ``where`` (AND), ``order_by``, ``limit``, ``offset``; then ``all``,
    ``first``, ``one``, ``count``, ``exists`` or iteration. One SQL statement each."""

    def __init__(self, experiment: "Experiment", exprs: Tuple[Expr, ...] = (), orders: Tuple[OrderClause, ...] = (),
                 limit: Optional[int] = None, offset: Optional[int] = None):
        self.experiment = experiment
        self._exprs, self._orders, self._limit, self._offset = exprs, orders, limit, offset

    def _with(self, **changes: Any) -> "Query":
        state = {"exprs": self._exprs, "orders": self._orders, "limit": self._limit, "offset": self._offset, **changes}
        return Query(self.experiment, **state)

    def where(self, *exprs: Expr) -> "Query":
        return self._with(exprs=self._exprs + tuple(_expr(e) for e in exprs))

    def order_by(self, *clauses: Any) -> "Query":
        orders = []
        for clause in clauses:
            if isinstance(clause, Field):
                clause = clause.asc()
            if not isinstance(clause, OrderClause):
                raise TypeError(f"order_by accepts Field or OrderClause (F('x') or F('x').desc()), got {type(clause).__name__}")
            orders.append(clause)
        return self._with(orders=self._orders + tuple(orders))

    def limit(self, n: int) -> "Query":
        return self._with(limit=_count_arg(n, "limit"))

    def offset(self, n: int) -> "Query":
        return self._with(offset=_count_arg(n, "offset"))

    # -- SQL --------------------------------------------------------------------------------------

    def _where(self, schema: Schema) -> _sql.Composable:
        parts: List[_sql.Composable] = [_sql.SQL("r.experiment_id = {}").format(schema.param(self.experiment.id))]
        parts += [e.compile(schema) for e in self._exprs]
        return _sql.SQL(" AND ").join(parts)

    def _select(self, schema: Schema, limit: Optional[int] = None) -> _sql.Composable:
        where = self._where(schema)
        order = _sql.SQL(", ").join([o.compile(schema) for o in self._orders] + [_sql.SQL("r.id")])
        statement = _sql.SQL("SELECT r.* FROM pgtrack.runs r WHERE {} ORDER BY {}").format(where, order)
        limit = self._limit if limit is None else limit if self._limit is None else min(limit, self._limit)
        if limit is not None:
            statement = _sql.SQL("{} LIMIT {}").format(statement, schema.param(limit))
        if self._offset:
            statement = _sql.SQL("{} OFFSET {}").format(statement, schema.param(self._offset))
        return statement

    def _runs(self, limit: Optional[int] = None) -> List["Run"]:
        from psycopg.rows import dict_row

        client = self.experiment.client
        runs = []
        schema = Schema(self.experiment)
        statement = self._select(schema, limit)
        floats = {name for name, kind in schema.identifying.items() if kind == "float"}  # their 0.0 reads as 0
        for row in client.execute(statement, schema.params, row_factory=dict_row):
            run = Run._bind(client, row["id"], self.experiment.id, experiment=self.experiment)
            row["identity"] = typed_identity(row.get("identity"), floats)
            run._row = {**row, **(row["identity"] or {}), "status": Status(row["status"])}
            runs.append(run)
        return runs

    def all(self) -> List["Run"]:
        return self._runs()

    def first(self) -> Optional["Run"]:
        found = self._runs(1)
        return found[0] if found else None

    def one(self) -> "Run":
        found = self._runs(2)
        if not found:
            raise SchemaValidationError("Query.one() found no rows", hint="use first() when none is fine")
        if len(found) > 1:
            raise SchemaValidationError(f"Query.one() found {self.count()} rows; expected exactly 1",
                                        hint="narrow the query, or use first() or all()")
        return found[0]

    def count(self) -> int:
        """How many runs match (limit and offset ignored)."""
        schema = Schema(self.experiment)
        where = self._where(schema)
        query = _sql.SQL("SELECT pg_catalog.count(*) FROM pgtrack.runs r WHERE {}").format(where)
        return self.experiment.client.value(query, schema.params)

    def exists(self) -> bool:
        return self.first() is not None

    def __iter__(self) -> Iterator["Run"]:
        return iter(self._runs())

    def __repr__(self) -> str:
        return f"<pgtrack.Query experiment={self.experiment.id} where={len(self._exprs)} order_by={len(self._orders)}>"


def _count_arg(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative int, got {n!r}")
    return n
