"""Experiment: SQLTrack's experiment API plus the registry methods (one SQL call each)."""
from __future__ import annotations

import datetime as _dt
import os
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional

from . import _statements as sql
from . import registry
from ._identity import typed_identity
from ._jsonvalues import identifying_json, to_json
from ._suggest import suggest
from .client import Client
from .errors import NotFoundError
from .query import Fields, Query
from .run import Run

ENQUEUE_MAX = 10_000  # identities per pgtrack.enqueue call (its limit)


@dataclass(frozen=True)
class CollisionGroup:
    """Runs that would share one key after dropping an identifying field: ``identity`` (the key
    left, the dropped field removed) and ``run_ids`` (sorted); wallow's names ``field_values`` and
    ``row_ids`` read the same."""

    identity: Dict[str, Any]
    run_ids: List[int]

    @property
    def field_values(self) -> Dict[str, Any]:
        return self.identity

    @property
    def row_ids(self) -> List[int]:
        return self.run_ids


@dataclass(frozen=True)
class IdentifyingField:
    name: str
    type: str
    default: Any
    doc: Optional[str]


class Experiment:
    """Get or create an experiment by ``name`` (race-free), or bind an existing ``experiment_id``.
    comment and tags apply only when it is created; ``float_precision`` sets the significant digits
    of identifying floats (changing it re-normalises registered keys, or SchemaChangeError)."""

    name: Optional[str]  # None when bound by id alone (_bind), without a database call
    schema_extra_identifying: List[str]  # set by load_schema: identifying fields the schema file lacks

    def __init__(self, client: Client, experiment_id: Optional[int] = None, name: Optional[str] = None,
                 comment: Optional[str] = None, tags: Optional[Iterable[str]] = None,
                 float_precision: Optional[int] = None):
        self.client = client
        self.schema_defaults: Dict[str, Any] = {}
        if name is None and experiment_id is None:
            raise ValueError("Experiment needs a name or an experiment_id")
        if name is not None:
            # Get-or-create by name: safe to send again when the connection breaks (Client.repeat).
            self.id = client.repeat(sql.EXPERIMENT, (name, comment, None if tags is None else list(tags), float_precision))[0][0]
            if experiment_id is not None and experiment_id != self.id:
                raise ValueError(f"experiment {name!r} has id {self.id}, not {experiment_id}")
            self.name = name
        else:
            rows = client.repeat(sql.EXPERIMENT_BY_ID, (experiment_id,))
            row = rows[0] if rows else None
            if row is None:
                raise NotFoundError(f"experiment {experiment_id} does not exist",
                                    hint="create it with Experiment(client, name=...)")
            self.id, self.name = row

    def __repr__(self) -> str:
        return f"<pgtrack.Experiment id={self.id} name={self.name!r}>"

    @classmethod
    def _bind(cls, client: Client, experiment_id: int, name: Optional[str] = None) -> "Experiment":
        """An Experiment object for an existing id, without a database call."""
        experiment = cls.__new__(cls)
        experiment.client, experiment.schema_defaults = client, {}
        experiment.id, experiment.name = experiment_id, name
        return experiment

    @classmethod
    def get(cls, client: Client, name_or_id: Any) -> "Experiment":
        """An existing experiment by name or id; NotFoundError (with "did you mean") instead of
        creating one, so a typo in a notebook does not make a new, empty experiment."""
        if isinstance(name_or_id, Experiment):
            return name_or_id
        if isinstance(name_or_id, int) and not isinstance(name_or_id, bool):
            return cls(client, experiment_id=name_or_id)
        if not isinstance(name_or_id, str):
            raise TypeError(f"an experiment is named by a str or an int id, not {type(name_or_id).__name__}")
        row = client.one(sql.EXPERIMENT_BY_NAME, (name_or_id,))
        if row is None:
            names = [r[0] for r in client.execute(sql.EXPERIMENT_NAMES)]
            raise NotFoundError(f"experiment {name_or_id!r} does not exist", hint=suggest(name_or_id, names,
                                "create it with pgtrack.Experiment(client, name=...)"))
        return cls._bind(client, *row)

    # -- wallow's query DSL (pgtrack.query) ---------------------------------------------------------

    def where(self, *exprs: Any) -> Any:
        """A Query over this experiment's runs: ``experiment.where(F("lr") < 0.01).order_by(...).all()``."""
        return Query(self).where(*exprs)

    def query(self) -> Any:
        """A Query of every run (then where/order_by/limit/...)."""
        return Query(self)

    @property
    def f(self) -> Any:
        """``experiment.f.<name>``: a field checked at once (AttributeError for a typo); ``dir()`` lists them."""
        return Fields(self)

    def add_metric(self, name: str, type: str = "double precision", comment: Optional[str] = None) -> bool:
        """Add a metric column (metrics are shared by all experiments); see Client.add_metric."""
        return self.client.add_metric(name, type, comment)

    # -- SQLTrack API ------------------------------------------------------------------------------

    def set_name(self, name: str) -> None:
        self.client.execute(sql.EXPERIMENT_SET_NAME, (self.id, name))
        self.name = name

    def set_comment(self, comment: Optional[str]) -> None:
        self.client.execute(sql.EXPERIMENT_SET_COMMENT, (self.id, comment))

    def set_tags(self, *tags: str) -> None:
        self.client.execute(sql.EXPERIMENT_TAGS["set"], (self.id, list(tags)))

    def add_tags(self, *tags: str) -> None:
        self.client.execute(sql.EXPERIMENT_TAGS["add"], (self.id, list(tags)))

    def remove_tags(self, *tags: str) -> None:
        self.client.execute(sql.EXPERIMENT_TAGS["remove"], (self.id, list(tags)))

    def add_relationship(self, kind: str, to_id: Any) -> None:
        self.client.execute(sql.EXPERIMENT_RELATIONSHIP["add"], (self.id, kind, getattr(to_id, "id", to_id)))

    def remove_relationship(self, kind: str, to_id: Any) -> None:
        self.client.execute(sql.EXPERIMENT_RELATIONSHIP["remove"], (self.id, kind, getattr(to_id, "id", to_id)))

    add_link = add_relationship  # SQLTrack 0.1.4's names (its docs say relationship)
    remove_link = remove_relationship

    def get_run(self, run_id: Any = None, status: Optional[str] = None, comment: Optional[str] = None,
                tags: Optional[Iterable[str]] = None, args: Any = None, env: Any = None, updated: Any = None,
                *, buffer: bool = True) -> Run:
        """Get or create a run of this experiment (see Run)."""
        run = Run(self.client, self.id, run_id, status, comment, tags, args, env, updated, buffer=buffer)
        run.experiment = self
        return run

    # -- registry ----------------------------------------------------------------------------------

    def set_lost_after(self, lost_after: Any) -> None:
        """How long a live run of this experiment may be silent before it shows as LOST: a timedelta,
        seconds, or PostgreSQL interval text ("5 minutes"). A run whose holder heartbeats (track())
        is lost after three of its intervals if that is shorter."""
        if isinstance(lost_after, _dt.timedelta):
            lost_after = f"{lost_after.total_seconds()} seconds"
        elif isinstance(lost_after, (int, float)) and not isinstance(lost_after, bool):
            lost_after = f"{float(lost_after)} seconds"
        self.client.execute(sql.SET_LOST_AFTER, (self.id, str(lost_after)))

    def declare_identifying(self, name: str, type: str, default: Any = None, doc: Optional[str] = None) -> None:
        if default is not None:
            identifying_json({name: default})  # a NaN/inf default is SchemaValidationError, like a value
        default_json = None if default is None else to_json(default)
        # Declaring a field again with the same type and default changes nothing: safe to send again.
        self.client.repeat(sql.DECLARE_IDENTIFYING, (self.id, name, type, default_json, doc))

    def drop_identifying(self, name: str, force: bool = False) -> None:
        """Drop a field; SchemaChangeError if runs would collide, unless force (keeps the first run
        of each colliding group, deletes the others)."""
        self.client.execute(sql.DROP_IDENTIFYING, (self.id, name, force))

    def collisions_after_drop(self, name: str) -> List[CollisionGroup]:
        groups = self.client.execute(sql.COLLISIONS_AFTER_DROP, (self.id, name))
        floats = {n for (n,) in self.client.execute(sql.FLOAT_FIELDS, (self.id,))} if groups else set()
        return [CollisionGroup(typed_identity(identity, floats) or {}, list(run_ids)) for identity, run_ids in groups]

    def identifying_fields(self) -> List[IdentifyingField]:
        """The declared fields by name; a float field's default is a float (0.0, not 0)."""
        return [IdentifyingField(name, kind, float(default) if kind == "float" and type(default) is int else default, doc)
                for name, kind, default, doc in self.client.repeat(sql.IDENTIFYING_FIELDS, (self.id,))]

    def register(self, identifying: Mapping[str, Any], annotating: Optional[Mapping[str, Any]] = None, *,
                 on_duplicate: str, stale_after: Optional[_dt.timedelta] = None) -> registry.RegisterResult:
        return registry.register(self, identifying, annotating, on_duplicate=on_duplicate, stale_after=stale_after)

    def find(self, **identifying: Any) -> Optional[Run]:
        return registry.find(self, **identifying)

    def enqueue(self, identities: Iterable[Mapping[str, Any]]) -> int:
        """Register many identities as PENDING runs, 10,000 a statement (the server's limit); returns
        how many were new."""
        items = [identifying_json(identity) for identity in identities]
        chunks = [items[i:i + ENQUEUE_MAX] for i in range(0, len(items), ENQUEUE_MAX)] or [[]]
        return sum(self.client.value(sql.ENQUEUE, (self.id, f"[{','.join(chunk)}]")) for chunk in chunks)

    def claim_next(self, stale_after: _dt.timedelta, worker: Optional[str] = None, retry_failed: bool = True) -> Optional[Run]:
        """Claim one run to work on (stale live ones first, then PENDING, then failed ones unless
        ``retry_failed`` is False), as a Run holding its new attempt; None when there is nothing left."""
        rows = self.client.repeat(sql.CLAIM_NEXT_ONCE, (uuid.uuid4(), self.id, registry.stale_interval(stale_after), worker,
                                                       retry_failed))
        return registry.run_from_registration(self, rows[0], claimed=True)


def experiment_id(client: Client, experiment: Any) -> int:
    """The id of an experiment given as an Experiment, a name or an id (NotFoundError with "did you
    mean" for an unknown name); what every analysis helper accepts."""
    if isinstance(experiment, str) and experiment.isdigit() and client.one(sql.EXPERIMENT_BY_NAME, (experiment,)) is None:
        experiment = int(experiment)
    return Experiment.get(client, experiment).id


def run_from_env(client: Client) -> Run:
    """The run named by PGTRACK_EXPERIMENT_NAME and/or PGTRACK_EXPERIMENT_ID, and optionally
    PGTRACK_RUN_ID (created with that id if it does not exist; a new run without it). SQLTrack's
    SQLTRACK_EXPERIMENT_NAME/_ID and SQLTRACK_RUN_ID are read when pgtrack's are not set."""

    def env(suffix: str) -> Optional[str]:  # pgtrack's names, else SQLTrack's
        return os.environ.get(f"PGTRACK_{suffix}") or os.environ.get(f"SQLTRACK_{suffix}") or None

    name, exp_id = env("EXPERIMENT_NAME"), env("EXPERIMENT_ID")
    if name is None and exp_id is None:
        raise ValueError("set PGTRACK_EXPERIMENT_NAME and/or PGTRACK_EXPERIMENT_ID (or SQLTrack's SQLTRACK_*)")
    experiment = Experiment(client, experiment_id=None if exp_id is None else int(exp_id), name=name)
    run_id = env("RUN_ID")
    return experiment.get_run(run_id=None if run_id is None else int(run_id))
