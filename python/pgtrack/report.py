"""A self-contained HTML report of one experiment (``pgtrack report EXPERIMENT -o report.html``).

One file that opens offline in any browser: status counts, the runs as a sortable table (status,
identifying values, best and final value of every metric, duration, worker, error excerpt), one chart
of curves per metric (one line per run, downsampled in SQL by step buckets), and a scatter of the best
value of the primary metric against each identifying hyperparameter. Charts are matplotlib SVG inlined;
the only script is the table sorter, inline; nothing is fetched from anywhere. All data is escaped.

The primary metric is ``metric`` if given, else the first of val_loss, a metric containing "loss", the
first metric with data; it is minimised unless its name suggests a score (acc, auc, f1, precision,
recall, score, reward), or ``direction`` says otherwise.
"""
from __future__ import annotations

import datetime as _dt
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ._extras import require
from .client import for_reading
from .notebook import CSS, escape, format_float, format_status, format_tags, format_timedelta, status_group
from .plot import curve_points, draw_curves

from .runtable import MAXIMISED, numeric_metrics

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgtrack report: {title}</title>
<style>{css}
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222}}
h1{{margin-bottom:0.2em}} .sub{{color:#666;margin-top:0}}
table{{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}}
th,td{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;white-space:nowrap}}
th{{background:#f4f4f4;position:sticky;top:0}} #runs th{{cursor:pointer}} #runs th:hover{{background:#e4e4e4}}
tr.best td{{background:#e8f5e9;font-weight:600}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}} td.err{{color:#a00;max-width:28em;overflow:hidden;text-overflow:ellipsis}}
.wrap{{max-height:40em;overflow:auto;display:inline-block;max-width:100%}}
.charts{{display:flex;flex-wrap:wrap;gap:1em}} .chart svg{{max-width:100%;height:auto}}
</style></head>
<body data-js-errors="0">
<h1>{title}</h1><p class="sub">{subtitle}</p>
<h2>Status</h2>{status_table}
<h2>Runs</h2><p class="sub">{runs_note}</p><div class="wrap">{runs_table}</div>
<h2>Curves</h2><div class="charts">{curves}</div>
<h2>Best {primary} by hyperparameter</h2><div class="charts">{scatter}</div>
<script>
window.addEventListener("error", function () {{
  document.body.dataset.jsErrors = String(Number(document.body.dataset.jsErrors) + 1);
}});
(function () {{
  var table = document.getElementById("runs");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  for (var i = 0; i < heads.length; i++) {{
    heads[i].addEventListener("click", (function (col) {{
      return function () {{
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var asc = table.dataset.sortCol !== String(col) || table.dataset.sortDir !== "asc";
        rows.sort(function (a, b) {{
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          var nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
          if (x === "" && y !== "") c = 1; else if (y === "" && x !== "") c = -1;
          return asc ? c : -c;
        }});
        rows.forEach(function (r) {{ body.appendChild(r); }});
        table.dataset.sortCol = String(col); table.dataset.sortDir = asc ? "asc" : "desc";
      }};
    }})(i));
  }}
  var wanted = /sort=([^&]+)/.exec(window.location.hash);  // e.g. report.html#sort=best%20val_loss
  for (var j = 0; wanted && j < heads.length; j++) {{
    if (heads[j].textContent === decodeURIComponent(wanted[1])) {{ heads[j].click(); break; }}
  }}
}})();
</script>
</body></html>
"""


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    runs: int
    charts: int
    bytes: int
    seconds: float


def _experiment(client: Any, experiment: Any) -> Tuple[int, str, Optional[str]]:
    from .errors import NotFoundError

    if isinstance(experiment, int) or (isinstance(experiment, str) and experiment.isdigit()):
        row = client.one("SELECT id, name, comment FROM pgtrack.experiments WHERE id = %s", (int(experiment),))
    else:
        row = client.one("SELECT id, name, comment FROM pgtrack.experiments WHERE name = %s", (str(getattr(experiment, "name", experiment)),))
    if row is None:
        raise NotFoundError(f"experiment {experiment} does not exist", hint="list them with: pgtrack experiments")
    return row


def choose_primary(metrics: List[str], metric: Optional[str], direction: Optional[str]) -> Tuple[Optional[str], str]:
    if metric is None:
        metric = next((m for m in metrics if m == "val_loss"), None) or next((m for m in metrics if "loss" in m), None) \
            or (metrics[0] if metrics else None)
    if direction is None:
        direction = "max" if metric and MAXIMISED.search(metric) else "min"
    return metric, direction


def _svg(fig: Any, salt: str) -> str:
    matplotlib = require("matplotlib")
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], flags=re.S)  # RDF noise
    return text


def _cell(value: Any, text: str, numeric: bool = False, css: str = "") -> str:
    sort = "" if value is None else escape(value)
    classes = " ".join(c for c in ("num" if numeric else "", css) if c)
    attribute = f' class="{classes}"' if classes else ""
    return f'<td data-v="{sort}"{attribute}>{text}</td>'


def build_report(client: Any, experiment: Any, metric: Optional[str] = None, direction: Optional[str] = None,
                 buckets: int = 100) -> Tuple[str, int, int]:
    """(html, number of runs, number of charts). Every text in the charts is plain text: a writer's
    identifying value or metric name with $...$ (matplotlib's mathtext) is shown as written and can
    never make the report fail."""
    matplotlib = require("matplotlib")
    with matplotlib.rc_context({"text.parse_math": False}):
        return _build_report(client, experiment, metric, direction, buckets)


def _build_report(client: Any, experiment: Any, metric: Optional[str], direction: Optional[str],
                  buckets: int) -> Tuple[str, int, int]:
    figure_module = require("matplotlib.figure")
    client = for_reading(client)  # the read replica, when the Client has one
    exp_id, name, comment = _experiment(client, experiment)
    numeric = numeric_metrics(client)
    best: Dict[str, Dict[int, tuple]] = {}
    for m in numeric:
        rows = client.execute("SELECT run_id, best, best_step, final FROM pgtrack.best_runs(%s, %s, %s)",
                              (exp_id, m, "max" if MAXIMISED.search(m) else "min"))
        if rows:
            best[m] = {r[0]: r[1:] for r in rows}
    metrics = list(best)
    primary, direction = choose_primary(metrics, metric, direction)
    if primary in best and direction != ("max" if MAXIMISED.search(primary) else "min"):
        rows = client.execute("SELECT run_id, best, best_step, final FROM pgtrack.best_runs(%s, %s, %s)", (exp_id, primary, direction))
        best[primary] = {r[0]: r[1:] for r in rows}
    runs = client.execute(  # a lost run (live status, its worker silent) shows as LOST
        "SELECT r.id, s.shown_status, r.identity, r.worker, r.attempt, r.time_started, "
        "coalesce(r.time_finished, CASE WHEN s.lost THEN s.last_seen END), r.error, r.tags "
        "FROM pgtrack.runs r JOIN pgtrack.runs_status(%s) s ON s.run_id = r.id ORDER BY r.id", (exp_id,))
    fields = sorted({k for r in runs for k in (r[2] or {})})

    status_rows = client.execute("SELECT status::text, runs, lost, mean_duration, last_heartbeat_age, oldest_heartbeat_age "
                                 "FROM pgtrack.experiment_summary(%s)", (exp_id,))
    status_table = "<table><thead><tr><th>status</th><th>runs</th><th>lost</th><th>mean duration</th>" \
                   "<th>last sign of life</th><th>oldest sign of life</th></tr></thead><tbody>" + "".join(
        f"<tr><td>{format_status(s)}</td><td class=\"num\">{n}</td><td class=\"num\">{lost or ''}</td>"
        f"<td>{format_timedelta(d)}</td><td>{format_timedelta(a)} ago</td><td>{format_timedelta(o)} ago</td></tr>"
        for s, n, lost, d, a, o in status_rows) + "</tbody></table>"

    head = ["run", "status"] + fields + [f"{kind} {m}" for m in metrics for kind in ("best", "final")] + \
        ["attempt", "worker", "duration", "tags", "error"]
    # Rows sorted by the primary metric (best first, runs without it last); the best row highlighted.
    ranked = best.get(primary, {})
    sign = -1 if direction == "max" else 1
    best_id = min(ranked, key=lambda r: sign * ranked[r][0]) if ranked else None
    runs = sorted(runs, key=lambda r: (r[0] not in ranked, sign * ranked[r[0]][0] if r[0] in ranked else 0, r[0]))
    body = []
    for run_id, status, identity, worker, attempt, started, finished, error, tags in runs:
        cells = [_cell(run_id, escape(run_id), True), _cell(status, format_status(status))]
        cells += [_cell((identity or {}).get(f), escape((identity or {}).get(f, "")), isinstance((identity or {}).get(f), (int, float)))
                  for f in fields]
        for m in metrics:
            b, _, final = best[m].get(run_id, (None, None, None))
            cells += [_cell(b, format_float(b, ".4g", ""), True, "best" if m == primary else ""),
                      _cell(final, format_float(final, ".4g", ""), True)]
        duration = finished - started if started and finished else None
        excerpt = (error or "").strip().splitlines()[0][:200] if error else ""
        cells += [_cell(attempt, escape(attempt), True), _cell(worker, escape(worker or "")),
                  _cell(duration.total_seconds() if duration else None, format_timedelta(duration, "")),
                  _cell(",".join(sorted(tags or {})), format_tags(tags, "")),
                  _cell(excerpt, f'<span title="{escape(error or "")}">{escape(excerpt)}</span>', css="err")]
        body.append(('<tr class="best">' if run_id == best_id else "<tr>") + "".join(cells) + "</tr>")
    runs_table = ('<table id="runs"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) +
                  "</tr></thead><tbody>" + "".join(body) + "</tbody></table>")

    labels = {r[0]: f"run {r[0]} " + " ".join(f"{k}={v}" for k, v in sorted((r[2] or {}).items())) for r in runs}
    charts = []
    for n, m in enumerate(metrics):
        fig = figure_module.Figure(figsize=(5.8, 3.4), layout="constrained")
        ax = fig.add_subplot()
        draw_curves(ax, curve_points(client, [r[0] for r in runs], m, buckets), m, labels)
        ax.set_title(f"{m} ({'max' if MAXIMISED.search(m) else 'min'} is best)" if m != primary else f"{m} ({direction} is best)")
        charts.append(f'<div class="chart">{_svg(fig, f"curve{n}")}</div>')

    scatter = ""
    if primary and fields and best.get(primary):
        fig = figure_module.Figure(figsize=(3.2 * len(fields), 3.2), layout="constrained")
        for i, field in enumerate(fields, 1):
            ax = fig.add_subplot(1, len(fields), i)
            points = [((r[2] or {}).get(field), best[primary][r[0]][0]) for r in runs
                      if r[0] in best[primary] and (r[2] or {}).get(field) is not None]
            xs = [p[0] for p in points]
            if xs and not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
                categories = sorted({str(x) for x in xs})
                ax.set_xticks(range(len(categories)), categories, rotation=30)
                xs = [categories.index(str(x)) for x in xs]
            elif xs and min(xs) > 0 and max(xs) / min(xs) >= 100:
                ax.set_xscale("log")
            ax.scatter(xs, [p[1] for p in points], s=14, alpha=0.7)
            ax.set_xlabel(field)
            ax.set_ylabel(f"best {primary}" if i == 1 else "")
            ax.grid(True, alpha=0.3)
        scatter = f'<div class="chart">{_svg(fig, "scatter")}</div>'
        charts.append(scatter)

    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    subtitle = f"experiment {exp_id}{': ' + escape(comment) if comment else ''} &middot; {len(runs)} runs &middot; generated {generated}"
    page = PAGE.format(
        title=escape(name), css=CSS, subtitle=subtitle, status_table=status_table, runs_table=runs_table,
        runs_note=f"click a column to sort (or open with #sort=COLUMN); best values are {escape(direction)} for "
                  f"{escape(primary or '-')}",
        curves="".join(charts[:len(metrics)]) or "<p>no numeric metrics logged yet</p>",
        primary=escape(primary or "metric"), scatter=scatter or "<p>no identifying fields or no values</p>")
    return page, len(runs), len(charts)


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
