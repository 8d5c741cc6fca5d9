"""wallow's registry API over pgtrack.register/find_run/heartbeat (atomic in SQL; one call each).

``register(experiment, identifying, annotating=None, *, on_duplicate, stale_after=None)`` returns a
RegisterResult. ``annotating`` keys are run columns (upper-case wallow names reach their lower-case
column); a ``status`` string is matched to the runstatus enum case-insensitively (``running`` →
RUNNING, ``done``/``completed`` → COMPLETED).
"""
from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from . import _statements as sql
from ._jsonvalues import identifying_json, to_json
from .errors import DuplicateRunError, NotFoundError, SchemaValidationError
from .run import Run
from .status import status_name

if TYPE_CHECKING:
    from .experiment import CollisionGroup, Experiment

POLICIES = ("raise", "return_existing", "overwrite", "skip", "claim_if_stale")


@dataclass(frozen=True)
class RegisterResult:
    """Outcome of register(): ``run`` is None only for ``skip`` on an existing key."""

    run: Optional[Run]
    was_inserted: bool
    was_updated: bool = False
    was_skipped: bool = False


def annotating_json(annotating: Optional[Mapping[str, Any]]) -> str:
    values: Dict[str, Any] = {}
    for key, value in (annotating or {}).items():
        column = key.lower()
        if column in values:
            raise SchemaValidationError(f"annotating field {key!r} is given twice (names are case-insensitive)")
        if isinstance(value, _dt.datetime) and value.tzinfo is None:
            raise SchemaValidationError(f"annotating field {key!r} is a naive datetime ({value.isoformat()}): not coercible "
                                        "to timestamptz without a time zone",
                                        hint="pass an aware datetime, e.g. datetime.now(timezone.utc)")
        values[column] = status_name(value) if column == "status" and isinstance(value, str) else value
    return to_json(values)


def stale_interval(stale_after: Any) -> Optional[_dt.timedelta]:
    if stale_after is None or isinstance(stale_after, _dt.timedelta):
        return stale_after
    raise SchemaValidationError(f"stale_after must be a datetime.timedelta, got {stale_after!r}",
                                hint="pass stale_after=timedelta(minutes=10)")


def experiment_of(thing: Any) -> "Experiment":
    """The Experiment behind what the caller passed: an Experiment, or a face that wraps one and names
    it ``experiment`` (wallow's Store, whose module sits on top of this one)."""
    return getattr(thing, "experiment", None) or thing


def run_from_registration(experiment: "Experiment", row: tuple, claimed: bool) -> Optional[Run]:
    """The Run of a registration row; it holds the attempt (the lease) only when this call claimed it."""
    run_id, run_uuid, status, attempt = row[:4]
    if run_id is None:
        return None
    return Run._bind(experiment.client, run_id, experiment.id, attempt=attempt if claimed else None,
                     snapshot={"uuid": str(run_uuid), "status": status}, experiment=experiment)


def register(experiment: "Experiment", identifying: Mapping[str, Any], annotating: Optional[Mapping[str, Any]] = None,
             *, on_duplicate: str, stale_after: Optional[_dt.timedelta] = None) -> RegisterResult:
    """Register a run by its identifying values with an explicit duplicate policy (SPEC §4.4).
    ``experiment`` may be wallow's Store (pgtrack.Store)."""
    experiment = experiment_of(experiment)
    client = experiment.client
    params = (uuid.uuid4(), experiment.id, identifying_json(identifying), annotating_json(annotating), on_duplicate,
              stale_interval(stale_after))
    try:
        row = client.repeat(sql.REGISTER_ONCE, params)[0]  # sent again with the same request after a lost reply
    except DuplicateRunError as exc:
        if exc.existing_run_id is not None:
            exc.run = Run._bind(client, exc.existing_run_id, experiment.id, experiment=experiment)
        raise
    claimed = on_duplicate == "claim_if_stale" and not row[6]
    return RegisterResult(run_from_registration(experiment, row, claimed), *row[4:])


def find(experiment: "Experiment", **identifying: Any) -> Optional[Run]:
    """The run with these identifying values (normalised, defaults filled), or None."""
    experiment = experiment_of(experiment)
    run_id = experiment.client.value(sql.FIND_RUN, (experiment.id, identifying_json(identifying)))
    return None if run_id is None else Run._bind(experiment.client, run_id, experiment.id, experiment=experiment)


def heartbeat(run: Any, identifying: Optional[Mapping[str, Any]] = None) -> _dt.datetime:
    """time_updated = now for the run (with the attempt it holds); returns that time. wallow's form,
    ``heartbeat(store, identifying={...})``, finds the run by its identifying values first (NotFoundError
    if there is none)."""
    if identifying is not None:
        found = find(run, **identifying)
        if found is None:
            raise NotFoundError(f"no run with identifying values {dict(identifying)!r}", hint="register it first")
        run = found
    return run.heartbeat()


def find_collisions_after_drop(experiment: Any, field_name: str) -> List["CollisionGroup"]:
    """wallow's name for ``experiment.collisions_after_drop(field_name)``: the groups of runs that
    would share one key without that identifying field (``field_values``/``identity``,
    ``row_ids``/``run_ids``). A field that is not identifying is SchemaValidationError."""
    return experiment_of(experiment).collisions_after_drop(field_name)
