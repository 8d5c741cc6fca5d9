"""pgtrack: experiment tracking and a deduplicating run registry inside PostgreSQL.

The Python package is a thin shim over the extension's SQL functions (schema ``pgtrack``).
"""
from .errors import (
    DuplicateRunError,
    LeaseLostError,
    NotFoundError,
    PgtrackError,
    SchemaChangeError,
    SchemaValidationError,
    translate,
)

__version__ = "0.1.0"

__all__ = [
    "DuplicateRunError",
    "LeaseLostError",
    "NotFoundError",
    "PgtrackError",
    "SchemaChangeError",
    "SchemaValidationError",
    "translate",
]
