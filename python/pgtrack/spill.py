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

Spill files are loaded into the database with the loader's rights, so they are trusted only when they
are the user's own (the rule of :mod:`pgtrack.paths`): the spill directory is created 0700 and must be
a real directory of the current user that no one else may write, or nothing is written there (an
UntrustedFile error) and nothing is read from it (a warning); each file must be a regular file of the
user's, not writable by others, opened without following links. Every file must name its run
exactly, with the run's uuid and the attempt its rows were logged under: a file without them (or with
malformed lines, or whose rows or status the server refuses) is refused with a warning and left in
place, never loaded unfenced.
"""
from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import tempfile
import uuid as _uuid
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from .paths import UntrustedFile, check_private_directory, read_private_text

_counter = itertools.count()
_written: Set[Path] = set()  # files this process wrote and has not loaded yet (recover_written)
_BIGINT, _INTEGER = 2 ** 63, 2 ** 31


class SpillRefused(ValueError):
    """A spill file pgtrack will not load (untrusted, malformed, or not naming its run exactly)."""


def directory() -> Path:
    if os.environ.get("PGTRACK_SPILL_DIR"):
        return Path(os.environ["PGTRACK_SPILL_DIR"]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "pgtrack" / "spill"


def write(run_id: int, uuid: Optional[str], attempt: Optional[int], rows: List[Dict[str, Any]],
          stop: Optional[Dict[str, Any]] = None) -> Path:
    """Write one spill file atomically (0600); returns its path."""
    from ._jsonvalues import to_json

    folder = directory()
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    check_private_directory(folder)  # not one planted by someone else, nor one others may write
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
    _written.add(folder / name)
    return folder / name


def read(path: Path) -> Tuple[Dict[str, Any], List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """(header, rows, stop) of a spill file; SpillRefused unless it is the user's own (see the module
    docstring) and well formed, its first line naming the run's id, uuid and attempt."""
    try:
        text = read_private_text(path)
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (UntrustedFile, ValueError) as exc:  # json.JSONDecodeError and non-UTF-8 text are ValueErrors
        raise SpillRefused(str(exc)) from None
    header, rows, stop = (records or [None])[0], [], None
    _check_header(header)
    for number, record in enumerate(records[1:], 2):
        if not isinstance(record, dict):
            raise SpillRefused(f"line {number} is not a JSON object")
        if "stop" in record and len(record) == 1:
            stop = record["stop"]
            if not (isinstance(stop, dict) and isinstance(stop.get("status", ""), str)
                    and isinstance(stop.get("error"), (str, type(None))) and _is_time(stop.get("finished"))):
                raise SpillRefused(f"line {number}: the final status is not {{\"status\": text, \"error\": text or null, "
                                   f"\"finished\": an ISO time or absent}}")
        else:
            rows.append(record)
    return header, rows, stop


def _is_time(value: Any) -> bool:
    """None, or an ISO 8601 time with its offset (what track() writes)."""
    if value is None:
        return True
    try:
        return isinstance(value, str) and _dt.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _check_header(header: Any) -> None:
    """The first line must name the run exactly: its id, its uuid (the database it belongs to) and the
    attempt the rows were logged under (what fences them, as every live write is fenced)."""
    if not isinstance(header, dict):
        raise SpillRefused("its first line is not a JSON object naming the run")
    if not _is_int(header.get("run_id"), 1, _BIGINT):
        raise SpillRefused(f"its first line has no valid run_id ({header.get('run_id')!r})")
    try:
        _uuid.UUID(header.get("uuid"))
    except (TypeError, ValueError, AttributeError):
        raise SpillRefused(f"its first line has no valid run uuid ({header.get('uuid')!r}), so the database it "
                           "belongs to is unknown") from None
    if not _is_int(header.get("attempt"), 0, _INTEGER):
        raise SpillRefused(f"its first line has no valid attempt ({header.get('attempt')!r}): its rows cannot be "
                           "fenced against a run claimed since; if you are sure no one else took the run over, "
                           "set it to the run's attempt (SELECT attempt FROM pgtrack.runs WHERE id = "
                           f"{header['run_id']})")


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < high


def _trusted_folder() -> Optional[Path]:
    """The spill directory if it exists and is the user's own; else None (with a warning when it exists)."""
    folder = directory()
    try:
        check_private_directory(folder)
    except FileNotFoundError:
        return None
    except UntrustedFile as exc:
        warnings.warn(f"pgtrack: not reading spill files: {exc}", UserWarning, stacklevel=3)
        return None
    return folder


def files(run_id: Optional[int] = None) -> Iterator[Path]:
    folder = _trusted_folder()
    if folder is not None:
        yield from sorted(folder.glob(f"run-{run_id if run_id is not None else '*'}-*.jsonl"))


def recover(client: Any, run_id: Optional[int] = None) -> Dict[str, int]:
    """Load spill files (of one run, or all) into the database ``client`` points at; returns counts:
    files loaded, rows written, runs stopped, files skipped (another database), rejected (lease lost)
    and refused (see the module docstring; each refusal is warned about, the file left in place)."""
    return _recover_paths(client, list(files(run_id)))


def pending() -> bool:
    """True while files this process wrote wait to be loaded."""
    return bool(_written)


def recover_written(client: Any) -> Dict[str, int]:
    """Load the spill files this process wrote (of any run: a sweep's or an Optuna study's earlier
    trials too) once the server answers again; Run.flush and track() call it after a write succeeds."""
    paths = sorted(_written)
    _written.difference_update(paths)
    try:
        return _recover_paths(client, [path for path in paths if path.exists()])
    except BaseException:
        _written.update(path for path in paths if path.exists())  # not loaded: try again next time
        raise


def _recover_paths(client: Any, paths: List[Path]) -> Dict[str, int]:
    done = {"files": 0, "rows": 0, "stopped": 0, "skipped": 0, "rejected": 0, "refused": 0}
    for path in paths:
        claimed = path.with_suffix(f".loading-{os.getpid()}")
        try:
            os.rename(path, claimed)  # one loader per file
        except OSError:
            continue
        try:
            outcome = _load(client, path, claimed, done)
        except BaseException:
            if os.path.lexists(claimed):
                os.rename(claimed, path)
            raise
        if outcome == "files":
            claimed.unlink()
        else:  # a rejected file is set aside, any other stays where it was
            os.rename(claimed, path.with_suffix(".rejected") if outcome == "rejected" else path)
        done[outcome] += 1
    return done


def _load(client: Any, path: Path, claimed: Path, done: Dict[str, int]) -> str:
    """Load one claimed file; returns which count it adds to."""
    import psycopg

    from . import _statements as sql
    from ._jsonvalues import json_batches
    from .errors import LeaseLostError, PgtrackError

    try:
        header, rows, stop = read(claimed)
    except SpillRefused as exc:
        return _refused(path, exc)
    run_id, attempt = header["run_id"], header["attempt"]
    stored, experiment_id = client.one("SELECT uuid::text, experiment_id FROM pgtrack.runs WHERE id = %s",
                                       (run_id,)) or (None, None)
    if stored != str(_uuid.UUID(header["uuid"])):
        return "skipped"  # no such run here, or another database's run of the same id
    try:
        with client.connect():  # one transaction: the rows and the status, or nothing
            missing = not client.metric_names().issuperset(name for row in rows for name in row if name not in ("step", "progress"))
            written = sum(client.value(sql.ADD_METRICS_BATCH, (run_id, batch, True, attempt, missing, experiment_id))
                          for batch in json_batches(rows))  # within the writer's limits, as a live flush
            if stop:
                client.value(sql.RUN_STOP, (run_id, stop.get("status", "COMPLETED"), stop.get("error"), attempt, experiment_id))
                if stop.get("finished"):  # when the script ended, not when this file was loaded (never later)
                    client.execute("UPDATE pgtrack.runs SET time_finished = least(time_finished, %s::timestamptz) "
                                   "WHERE id = %s AND experiment_id = %s", (stop["finished"], run_id, experiment_id))
    except LeaseLostError:
        return "rejected"
    except psycopg.OperationalError:  # the server went away (ServerUnreachable is a PgtrackError too): retried later
        raise
    # Its rows or status refused by the server (PT003, a NUL), or before it (ValueError: not encodable as UTF-8).
    except (PgtrackError, psycopg.DataError, ValueError) as exc:
        return _refused(path, exc)
    done["rows"] += written
    done["stopped"] += bool(stop)
    return "files"


def _refused(path: Path, reason: Exception) -> str:
    warnings.warn(f"pgtrack: left the spill file {path} in place, not loaded: {reason}", UserWarning, stacklevel=5)
    return "refused"
