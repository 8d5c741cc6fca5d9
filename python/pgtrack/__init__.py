"""pgtrack: experiment tracking and a deduplicating run registry inside PostgreSQL.

The Python package is a thin shim over the extension's SQL functions (schema ``pgtrack``): each
operation is one SQL call on the Client's one reused connection. ``import pgtrack`` needs only psycopg.
"""
# SQLTrack's modules, attributes after `import sqltrack` as in SQLTrack (whose model imports them)
from . import args, queries, sigterm, util  # noqa: F401
from .client import Client
from .errors import (
    AlreadyCompleted,
    AlreadyRunning,
    DuplicateRunError,
    LeaseLostError,
    NotFoundError,
    PendingMigrationError,
    PgtrackError,
    SchemaChangeError,
    SchemaError,
    SchemaParseError,
    SchemaValidationError,
    ServerUnreachable,
    WallowError,
    translate,
)
from .experiment import CollisionGroup, Experiment, IdentifyingField, run_from_env
from .functions import *  # noqa: F401,F403  (SQLTrack's module-level experiment_*/run_* functions)
from .functions import __all__ as _functions
from .lifecycle import LifecycleHandle, WorkerHandle, run_lifecycle
from .query import Expr, F, Field, OrderClause, Query
from .registry import RegisterResult, find, find_collisions_after_drop, heartbeat, register
from .run import Run
from .schema import Schema, load_schema
from .store import Store
from .sweep import sweep
from .tracking import Terminated

__version__ = "0.3.0"

__all__ = [
    "AlreadyCompleted", "AlreadyRunning", "Client", "F", "Field", "Query", "CollisionGroup", "DuplicateRunError", "Experiment",
    "Expr", "IdentifyingField", "LeaseLostError", "LifecycleHandle", "NotFoundError", "OrderClause", "PendingMigrationError",
    "PgtrackError", "RegisterResult", "Run", "Schema", "SchemaChangeError", "SchemaError", "SchemaParseError", "SchemaValidationError",
    "ServerUnreachable", "Store", "Terminated", "WallowError", "WorkerHandle", "find", "find_collisions_after_drop", "sweep",
    "heartbeat", "load_schema", "register", "run_from_env", "run_lifecycle", "translate", *_functions,
]
