"""``from pgtrack.contrib.lifecycle import AlreadyCompleted, run_lifecycle``: wallow's import path for
pgtrack's lifecycle helper (pgtrack.lifecycle; ``pgtrack.run_lifecycle`` is the same function)."""
from ..errors import AlreadyCompleted
from ..lifecycle import LifecycleHandle, WorkerHandle, run_lifecycle

__all__ = ["AlreadyCompleted", "LifecycleHandle", "WorkerHandle", "run_lifecycle"]
