"""``pgtrack report EXPERIMENT [-o FILE.html]``: the dashboard's views of one experiment as a single
self-contained HTML file that opens offline.

The file is the dashboard (``pgtrack ui``: its stylesheet and script, inlined) with the experiment's
data embedded as JSON: every run's row (identifying values, status with LOST, best and final metrics,
duration, worker, error), the sweep counts, and the curves (mean and min/max per bucket) of the first
``curve_runs`` runs by the primary metric. The runs table sorts, filters (the dashboard's filter
language) and pages in the browser; it opens sorted by the primary metric, best first, with the best
row highlighted; ``#sort=COLUMN`` (and ``&desc=1``) opens it sorted otherwise, ``#tab=charts`` on the
charts. Every value reaches the page as text. Nothing is fetched from anywhere.

The primary metric is ``metric`` if given, else val_loss, else a metric whose name contains "loss",
else the first; it is minimised unless its name suggests a score or ``direction`` says otherwise.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Tuple

from ._runtable import best_run, score
from .client import for_reading

CURVE_RUNS = 100


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    runs: int
    charts: int
    bytes: int
    seconds: float


def _experiment_id(client: Any, experiment: Any) -> int:
    from .experiment import experiment_id

    return experiment_id(client, experiment)


def _asset(name: str) -> str:
    # one name a step: Traversable.joinpath takes several only from Python 3.11
    return resources.files("pgtrack.ui").joinpath("static").joinpath(name).read_text(encoding="utf-8")


def _script(text: str) -> str:
    """Inline script text that cannot end its <script> element early."""
    return text.replace("</", "<\\/")


# Characters of JSON text embedded in a <script> element, as JSON escapes (they only occur inside
# strings): without "<", no "</script>" ends the element and no "<!--<script>" turns on the HTML
# parser's double-escaped state, which swallows the page's scripts up to the next "</script>"; ">"
# and "&" for good measure; U+2028/U+2029, line terminators in older JavaScript.
_JSON_IN_SCRIPT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                 "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_script(value: Any) -> str:
    """JSON for a <script type="application/json"> element: no character of it is markup."""
    return json.dumps(value, allow_nan=False).translate(_JSON_IN_SCRIPT)


def build_report(client: Any, experiment: Any, metric: Optional[str] = None, direction: Optional[str] = None,
                 buckets: int = 100, curve_runs: int = CURVE_RUNS) -> Tuple[str, int, int]:
    """(html, number of runs, number of charts)."""
    from .errors import NotFoundError, SchemaValidationError
    from .ui import data

    client = for_reading(client)  # the read replica, when the Client has one
    exp_id = _experiment_id(client, experiment)
    info = data.experiment(client, exp_id)
    if info is None:  # an Experiment object is taken as it is: its experiment may have been deleted
        raise NotFoundError(f"experiment {exp_id} does not exist")
    if metric is not None:
        if metric not in info["metrics"]:
            raise SchemaValidationError(f"metric {metric!r} has no values in this experiment",
                                        hint="metrics with values: " + (", ".join(info["metrics"]) or "(none)"))
        info["primary"] = metric
    if direction is not None and info["primary"]:
        info["directions"][info["primary"]] = direction
    info["generated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    runs = data.runs_page(client, exp_id, limit=data.MAX_PAGE * 1000)
    runs["primary"], runs["directions"] = info["primary"], info["directions"]
    primary = info["primary"]
    if primary:  # the best row by the (possibly overridden) primary metric, first; rows without a score last
        runs["best_id"] = best_run(runs["rows"], primary, info["directions"][primary])
        sign = -1 if info["directions"][primary] == "max" else 1
        ordered = sorted(runs["rows"], key=lambda r: (score(r, primary) is None, sign * (score(r, primary) or 0), r["id"]))
    else:
        ordered = runs["rows"]
    chart_ids = [r["id"] for r in ordered[:curve_runs]]
    curves = {m: data.curves(client, exp_id, m, chart_ids, buckets) for m in info["metrics"]} if chart_ids else {}
    payload = {"experiment": info, "runs": runs, "sweep": data.sweep(client, exp_id), "curves": curves}
    page = PAGE.format(title=html.escape(info["name"]), css=_asset("app.css"),
                       data=_json_script(payload),
                       offline=_script(_asset("offline.js")), app=_script(_asset("app.js")))
    return page, len(runs["rows"]), len(curves)


def write_report(client: Any, experiment: Any, path: Any, metric: Optional[str] = None, direction: Optional[str] = None,
                 buckets: int = 100) -> ReportInfo:
    """Write the report to ``path``; returns what was written and how long it took."""
    start = time.perf_counter()
    page, runs, charts = build_report(client, experiment, metric, direction, buckets)
    path = Path(path)
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:  # a full disk, a read-only file system: say which file
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return ReportInfo(path, runs, charts, path.stat().st_size, time.perf_counter() - start)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgtrack report: {title}</title><style>{css}</style></head>
<body data-js-errors="0"><header><span class="brand">pgtrack</span><span id="crumbs"></span><span id="live"></span></header>
<main id="app"><p class="muted">loading...</p></main>
<script>window.addEventListener("error", function () {{
  document.body.dataset.jsErrors = String(Number(document.body.dataset.jsErrors) + 1); }});</script>
<script type="application/json" id="pgtrack-data">{data}</script>
<script>{offline}</script>
<script>{app}</script>
</body></html>
"""
