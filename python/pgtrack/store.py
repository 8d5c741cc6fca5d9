"""wallow's ``Store``, for code written against wallow: a thin wrapper of one Experiment.

    schema = pgtrack.load_schema("wallow.toml")
    store = pgtrack.Store("runs.db", schema=schema)          # wallow's form
    store = pgtrack.Store(pgtrack.load_schema("wallow.toml", client))   # pgtrack's: an Experiment
    result = pgtrack.register(store, identifying={"lr": 0.1}, on_duplicate="return_existing")
    pgtrack.heartbeat(store, identifying={"lr": 0.1})
    store.where(F("status") == "completed").all(); store.count(); store.all()
    store.find_by_uuid(run.uuid); store.artefacts_dir(run, "checkpoints")

``Store(path_or_url, schema=...)``: which database a path or URL opens is pgtrack._database (a SQLite
path or URL opens the default pgtrack database, ``pgtrack.Client()``; a postgresql:// URL that one;
``client=`` names a Client instead); the schema is applied there and the experiment is its
``[project].name``. ``check_schema=True`` (the default, as in wallow) raises PendingMigrationError
when the database's pgtrack is missing or older than the package; ``journal_mode`` and
``busy_timeout_ms`` (SQLite settings) are accepted and have no effect.

``register``, ``find``, ``heartbeat``, ``find_collisions_after_drop`` and ``run_lifecycle`` take a Store
wherever they take an Experiment. ``store.experiment`` is pgtrack's own object, ``store.client`` its
Client, ``store.schema`` the Schema it was made with (None for ``Store(experiment)``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

from ._database import check_current, client_for, target
from .client import Client
from .experiment import Experiment
from .registry import experiment_of  # noqa: F401  (pgtrack.store.experiment_of, as before)
from .run import Run
from .schema import Schema


def _check_settings(check_schema: Any, journal_mode: Any, busy_timeout_ms: Any, client: Any) -> None:
    """wallow's keyword arguments (and client=) of the right types, else TypeError before anything connects."""
    if not isinstance(check_schema, bool):
        raise TypeError(f"check_schema must be True or False, got {check_schema!r}")
    if journal_mode is not None and not isinstance(journal_mode, str):
        raise TypeError(f"journal_mode must be a str or None, got {journal_mode!r} (it has no effect on pgtrack)")
    if busy_timeout_ms is not None and (isinstance(busy_timeout_ms, bool) or not isinstance(busy_timeout_ms, int)):
        raise TypeError(f"busy_timeout_ms must be an int or None, got {busy_timeout_ms!r} (it has no effect on pgtrack)")
    if client is not None and not isinstance(client, Client):
        raise TypeError(f"client must be a pgtrack.Client, got {type(client).__name__}")


class Store:
    def __init__(self, db_path: Any = None, *, schema: Any = None, check_schema: bool = True, journal_mode: Optional[str] = None,
                 busy_timeout_ms: Optional[int] = None, client: Optional[Client] = None, experiment: Any = None):
        """``Store(db_path, schema=...)`` (wallow's) or ``Store(experiment)`` (pgtrack's); see the module docstring."""
        if experiment is not None and db_path is not None:
            raise TypeError("Store takes a database path or an experiment, not both")
        given = experiment if experiment is not None else db_path
        _check_settings(check_schema, journal_mode, busy_timeout_ms, client)
        self.schema: Optional[Schema] = None
        self._own_client = False
        if isinstance(given, Experiment):  # pgtrack's form: Store(experiment)
            if schema is not None or client is not None:
                raise TypeError("Store(experiment) takes no schema= or client=: the experiment has both already")
            self.experiment: Experiment = given
        elif isinstance(given, Schema):
            raise TypeError("pass the database first: Store(\"runs.db\", schema=schema) (wallow's form), "
                            "or Store(schema.apply(client))")
        elif isinstance(schema, Experiment):  # Store(db, schema=load_schema(path, client)): that experiment, as it is
            target(given)  # the path or URL is still checked
            if client is not None:
                raise TypeError("Store(db, schema=experiment) takes no client=: the experiment has one already")
            self.experiment = schema
        elif isinstance(schema, Schema):
            target(given)  # checked before anything connects
            self.client, self._own_client = (client_for(given), True) if client is None else (client, False)
            try:
                if check_schema:
                    check_current(self.client)
                self.experiment = schema.apply(self.client)
            except BaseException:
                self.close()
                raise
            self.schema = schema
        else:
            raise TypeError("Store takes a database path or URL and schema=pgtrack.load_schema(path) (wallow's form), "
                            f"or a pgtrack.Experiment; got {type(given).__name__} and schema={type(schema).__name__}")
        self.client = self.experiment.client

    def __repr__(self) -> str:
        return f"<pgtrack.Store of {self.experiment!r}>"

    def close(self) -> None:
        """Close the connection the Store opened (a Client passed in, or an Experiment's, stays open)."""
        if self._own_client and getattr(self, "client", None) is not None:
            self.client.close()

    def check_schema(self) -> None:
        """wallow's check: PendingMigrationError when the database's pgtrack is older than the package."""
        check_current(self.client)

    # -- wallow's query entry points (pgtrack.query) ------------------------------------------------

    @property
    def f(self) -> Any:
        return self.experiment.f

    def where(self, *exprs: Any) -> Any:
        return self.experiment.where(*exprs)

    def count(self) -> int:
        """How many runs the experiment has (``store.where(...).count()`` for fewer)."""
        return self.experiment.query().count()

    def all(self) -> List[Run]:
        """Every run of the experiment, as Run objects (by id)."""
        return self.experiment.query().all()

    def find_by_uuid(self, uuid: str) -> Optional[Run]:
        """The experiment's run with this uuid, or None (an invalid uuid is None too, as in wallow)."""
        run_id = self.client.value("SELECT id FROM pgtrack.runs WHERE experiment_id = %s AND uuid::text = %s",
                                   (self.experiment.id, str(uuid)))
        return None if run_id is None else Run._bind(self.client, run_id, self.experiment.id, experiment=self.experiment)

    def artefacts_dir(self, run: Run, *parts: Any, mkdir: bool = False) -> Path:
        """``root / layout / *parts`` from the schema's artefacts_root and artefacts_layout (see
        Run.artefacts_dir). pgtrack returns it resolved (absolute); wallow returned it relative to
        the root as configured."""
        if run.experiment is None:
            run.experiment = self.experiment
        return run.artefacts_dir(None, None, *parts, mkdir=mkdir)
