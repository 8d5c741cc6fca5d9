"""Metric rows (and a final status) that could not reach the server, kept in local files.

When the server is unreachable for longer than a buffer's ``spill_after`` (default 60 s), or at the
end of ``track()`` while it still is, the waiting rows go to a JSON-lines file in the spill directory
(``$PGTRACK_SPILL_DIR``, else ``$XDG_STATE_HOME/pgtrack/spill``, else ``~/.local/state/pgtrack/spill``),
one file per write, named ``run-<id>-<uuid>-<pid>-<n>.jsonl``. The first line says which run (id,
uuid, attempt), the others hold rows, a last ``{"stop": ...}`` line the final status. Files are written
to a temporary name, fsynced and renamed, so a crash leaves either a whole file or none.

They are loaded by the run's next successful flush (in the same process), and by ``pgtrack recover``
(or :func:`recover`) from any process: rows through the batch writer with the attempt they were
logged under (idempotent upserts on (run_id, step, progress), so loading twice is harmless; a run
taken over by a newer attempt refuses them with PT004 and the file is set aside as ``.rejected``),
then the final status. A file whose run id does not exist or has another uuid (another database) is
left alone.
"""
from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

_counter = itertools.count()


def directory() -> Path:
    if os.environ.get("PGTRACK_SPILL_DIR"):
        return Path(os.environ["PGTRACK_SPILL_DIR"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "pgtrack" / "spill"


def write(run_id: int, uuid: Optional[str], attempt: Optional[int], rows: List[Dict[str, Any]],
          stop: Optional[Dict[str, Any]] = None) -> Path:
    """Write one spill file atomically (0600); returns its path."""
    from .jsonvalues import to_json

    folder = directory()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"run-{run_id}-{uuid or 'unknown'}-{os.getpid()}-{next(_counter)}.jsonl"
    lines = [json.dumps({"run_id": run_id, "uuid": uuid, "attempt": attempt})]
    lines += [to_json(row) for row in rows]
    if stop is not None:
        lines.append(json.dumps({"stop": stop}))
    handle, temporary = tempfile.mkstemp(prefix=".spill-", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return folder / name


def read(path: Path) -> Tuple[Dict[str, Any], List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """(header, rows, stop) of a spill file."""
    header, rows, stop = None, [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if header is None:
            header = record
        elif "stop" in record and len(record) == 1:
            stop = record["stop"]
        else:
            rows.append(record)
    return header or {}, rows, stop


def files(run_id: Optional[int] = None) -> Iterator[Path]:
    folder = directory()
    if folder.is_dir():
        yield from sorted(folder.glob(f"run-{run_id if run_id is not None else '*'}-*.jsonl"))


def recover(client: Any, run_id: Optional[int] = None) -> Dict[str, int]:
    """Load spill files (of one run, or all) into the database ``client`` points at; returns counts:
    files loaded, rows written, runs stopped, files skipped (another database) and rejected (lease lost)."""
    from . import statements as sql
    from .errors import LeaseLostError
    from .jsonvalues import to_json

    done = {"files": 0, "rows": 0, "stopped": 0, "skipped": 0, "rejected": 0}
    for path in files(run_id):
        claimed = path.with_suffix(f".loading-{os.getpid()}")
        try:
            os.rename(path, claimed)  # one loader per file
        except OSError:
            continue
        try:
            header, rows, stop = read(claimed)
            stored, experiment_id = client.one("SELECT uuid::text, experiment_id FROM pgtrack.runs WHERE id = %s",
                                               (header.get("run_id"),)) or (None, None)
            if stored is None or (header.get("uuid") not in (None, "unknown") and stored != header["uuid"]):
                os.rename(claimed, path)
                done["skipped"] += 1
                continue
            attempt = header.get("attempt")
            try:
                with client.connect():
                    if rows:
                        done["rows"] += client.value(sql.ADD_METRICS_BATCH, (header["run_id"], to_json(rows), True, attempt, experiment_id))
                    if stop:
                        client.value(sql.RUN_STOP, (header["run_id"], stop.get("status", "COMPLETED"), stop.get("error"), attempt,
                                                    experiment_id))
                        done["stopped"] += 1
            except LeaseLostError:
                os.rename(claimed, path.with_suffix(".rejected"))
                done["rejected"] += 1
                continue
            claimed.unlink()
            done["files"] += 1
        except BaseException:
            if claimed.exists():
                os.rename(claimed, path)
            raise
    return done
