"""What the dashboard shows, as JSON-ready dicts: every read is one or two SQL statements over
pgtrack's functions, on a read-only connection. The runs table is computed once per experiment
*version* (a digest of its runs' statuses and last signs of life, which every metric write and
status change moves) and cached, so sorting, filtering and paging are answered from memory."""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._jsonvalues import json_safe
from .._runtable import RunTable, best_run, run_table
from .._statements import RUN_STATUS_JOIN
from .filters import compile_filter

MAX_PAGE = 1000
_cache: Dict[Tuple[int, str], RunTable] = {}
_cache_lock = threading.Lock()


def experiments(client: Any) -> List[Dict[str, Any]]:
    columns, rows = client.execute_with_columns("""
        SELECT e.id, e.name, e.comment, count(s.run_id) AS runs,
               coalesce(jsonb_object_agg(s.shown_status, s.n) FILTER (WHERE s.shown_status IS NOT NULL), '{}') AS by_status,
               max(s.last_seen) AS last_activity
          FROM pgtrack.experiments e
          LEFT JOIN (SELECT experiment_id, run_id, shown_status, last_seen,
                            count(*) OVER (PARTITION BY experiment_id, shown_status) AS n
                       FROM pgtrack.runs_status()) s ON s.experiment_id = e.id
         GROUP BY e.id ORDER BY e.id""")
    return [json_safe(dict(zip(columns, row))) for row in rows]


def experiment(client: Any, experiment_id: int) -> Optional[Dict[str, Any]]:
    row = client.one("SELECT id, name, comment, tags, lost_after FROM pgtrack.experiments WHERE id = %s", (experiment_id,))
    if row is None:
        return None
    current = version(client, experiment_id)
    table = cached_table(client, experiment_id, current)
    primary = choose_primary(table)
    return json_safe({"id": row[0], "name": row[1], "comment": row[2], "tags": row[3], "lost_after": row[4],
                  "fields": table.fields, "metrics": table.metrics, "directions": table.directions,
                  "columns": table.columns, "primary": primary, "version": current, "runs": len(table.rows)})


VERSION_TTL = 0.5  # seconds a computed version is reused: a page's sort, filter and paging need no new one
_versions: Dict[int, Tuple[float, str]] = {}


def version(client: Any, experiment_id: int) -> str:
    """Changes whenever a run of the experiment is added, logs (metric writers touch time_updated),
    changes status or goes lost. Reused for VERSION_TTL, so a change shows within a second and a half
    of polling at the latest."""
    now = time.monotonic()
    with _cache_lock:
        cached = _versions.get(experiment_id)
    if cached and now - cached[0] < VERSION_TTL:
        return cached[1]
    current = _compute_version(client, experiment_id)
    with _cache_lock:
        _versions[experiment_id] = (now, current)
    return current


def _compute_version(client: Any, experiment_id: int) -> str:
    """One pass over the experiment's runs: their count, the newest sign of life and end, a checksum of
    statuses (a status set without touching time_updated), and how many are lost (which changes with
    time alone)."""
    return client.value("""
        SELECT concat_ws(':', count(*), max(r.time_updated), max(r.time_finished),
                         sum(hashtext(r.id::text || r.status::text)),
                         count(*) FILTER (WHERE pgtrack.run_is_lost(r.status, r.time_updated, r.time_started, r.time_created,
                                                                    r.heartbeat_every, e.lost_after)))
          FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id
         WHERE r.experiment_id = %s""", (experiment_id,))


def cached_table(client: Any, experiment_id: int, current: Optional[str] = None) -> RunTable:
    """The experiment's RunTable for its current version (computed once per version)."""
    key = (experiment_id, current or version(client, experiment_id))
    with _cache_lock:
        table = _cache.get(key)
    if table is None:
        table = run_table(client, experiment_id)
        with _cache_lock:
            for old in [k for k in _cache if k[0] == experiment_id]:
                del _cache[old]
            _cache[key] = table
    return table


def choose_primary(table: RunTable) -> Optional[str]:
    metrics = table.metrics
    return next((m for m in metrics if m == "val_loss"), None) or next((m for m in metrics if "loss" in m), None) \
        or (metrics[0] if metrics else None)


def _sort_key(column: str):
    def key(row: Dict[str, Any]):
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (2, 0, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, value, "")
        return (1, 0, str(value).lower())
    return key


def runs_page(client: Any, experiment_id: int, sort: Optional[str] = None, descending: bool = False,
              filter_text: str = "", offset: int = 0, limit: int = 100) -> Dict[str, Any]:
    """One page of the runs table, sorted and filtered by the server; ``best_id`` is the best run by
    the primary metric (over the filtered rows)."""
    current = version(client, experiment_id)
    table = cached_table(client, experiment_id, current)
    predicate = compile_filter(filter_text, table.columns)
    rows = [r for r in table.rows if predicate(r)]
    primary = choose_primary(table)
    best_id = best_run(rows, primary, table.directions[primary]) if primary else None
    if sort:
        if sort not in table.columns:
            raise ValueError(f"unknown column {sort!r}")
        ordered = sorted((r for r in rows if _sort_key(sort)(r)[0] < 2), key=_sort_key(sort), reverse=descending)
        rows = ordered + [r for r in rows if _sort_key(sort)(r)[0] == 2]  # missing values last either way
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    return json_safe({"columns": table.columns, "fields": table.fields, "metrics": table.metrics,
                  "directions": table.directions, "primary": primary, "total": len(table.rows), "matched": len(rows),
                  "offset": offset, "limit": limit, "best_id": best_id, "rows": rows[offset:offset + limit],
                  "version": current})


def curves(client: Any, experiment_id: int, metric: str, run_ids: Sequence[int], buckets: int = 200,
           axis: str = "step") -> Dict[str, Any]:
    """Per run: bucket numbers, x, mean, min and max (pgtrack.metric_envelope, downsampled in SQL)."""
    rows = client.execute("SELECT run_id, bucket, x, mean, lo, hi FROM pgtrack.metric_envelope(%s, %s, %s, %s, %s)",
                          (experiment_id, metric, buckets, list(run_ids) or None, axis))
    series: Dict[int, Dict[str, List[Any]]] = {}
    for run_id, bucket, x, mean, lo, hi in rows:
        s = series.setdefault(run_id, {"run_id": run_id, "bucket": [], "x": [], "mean": [], "lo": [], "hi": []})
        s["bucket"].append(bucket)
        s["x"].append(x)
        s["mean"].append(mean)
        s["lo"].append(lo)
        s["hi"].append(hi)
    return json_safe({"metric": metric, "axis": axis, "series": list(series.values())})


def run(client: Any, run_id: int) -> Optional[Dict[str, Any]]:
    columns, rows = client.execute_with_columns(
        "SELECT r.*, e.name AS experiment, s.shown_status, s.lost, s.silent_for FROM pgtrack.runs r "
        "JOIN pgtrack.experiments e ON e.id = r.experiment_id "
        + RUN_STATUS_JOIN + " WHERE r.id = %s", (run_id,))
    if not rows:
        return None
    record = dict(zip(columns, rows[0]))
    record["final_metrics"] = {m: v for m, v, _, _ in client.execute("SELECT * FROM pgtrack.final_metrics(%s)", (run_id,))}
    record["relationships"] = [{"kind": k, "to": t, "direction": d} for k, t, d in client.execute(
        "SELECT kind, to_id, 'to' FROM pgtrack.run_relationships WHERE from_id = %s "
        "UNION ALL SELECT kind, from_id, 'from' FROM pgtrack.run_relationships WHERE to_id = %s ORDER BY 1, 2",
        (run_id, run_id))]
    record["metrics"] = [m for m, v in record["final_metrics"].items() if isinstance(v, (int, float)) or v in ("NaN",)]
    return json_safe(record)


def sweep(client: Any, experiment_id: int) -> Dict[str, Any]:
    """Counts by shown status, claims per minute over the last 10 minutes, and an ETA for the rest."""
    counts = dict(client.execute("SELECT shown_status, count(*) FROM pgtrack.runs_status(%s) GROUP BY 1", (experiment_id,)))
    recent = client.value("SELECT pg_catalog.count(*) FROM pgtrack.runs WHERE experiment_id = %s "
                          "AND time_started > clock_timestamp() - interval '10 minutes'", (experiment_id,))
    per_minute = recent / 10.0
    waiting = sum(n for status, n in counts.items() if status in ("PENDING", "LOST"))
    running = sum(n for status, n in counts.items() if status in ("RUNNING", "CONFIGURING", "COMPLETING"))
    eta = (waiting + running) / per_minute * 60 if per_minute > 0 else None
    return json_safe({"counts": counts, "claims_per_minute": per_minute, "remaining": waiting + running,
                  "eta_seconds": eta})
