"""SQLTrack's notebook formatting helpers: status icons, tag bubbles, relative times, progress bars,
``format_dataframe``. Every helper returns HTML in which all data is escaped, so a tag or comment
holding ``<script>`` shows as text. Only ``format_dataframe`` needs pandas; ``init_notebook_mode``
needs IPython.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import html
import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from ._extras import require

NA = "--"
TAG_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
              "#bcbd22", "#17becf")
# SQLTrack's status groups, one colored dot (a glyph every font has) and CSS class each.
STATUS_GROUPS = {
    "pending": ({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SUSPENDED"}, "#9e9e9e"),
    "running": ({"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING"}, "#1f77b4"),
    "completed": ({"COMPLETED"}, "#2ca02c"),
    "cancelled": ({"CANCELLED", "REVOKED", "STOPPED", "SPECIAL_EXIT"}, "#ff9800"),
    "failed": ({"FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT", "DEADLINE", "BOOT_FAIL", "PREEMPTED"}, "#d62728"),
    "lost": ({"LOST"}, "#7b1fa2"),  # a live status whose worker went silent (pgtrack.is_lost)
}

CSS = """
.pgtrack-status{white-space:nowrap}
.pgtrack-tag{display:inline-block;border-radius:0.8em;padding:0 0.5em;margin:0 0.15em;color:#fff;font-size:90%}
.pgtrack-pct{position:relative;min-width:4em;display:inline-block;background:#eee}
.pgtrack-pct>span{position:absolute;left:0;top:0;bottom:0;background:#9ecae1}
.pgtrack-pct>b{position:relative;font-weight:normal;padding:0 0.2em}
.pgtrack-ellipsis{display:inline-block;max-width:20em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
.pgtrack-ellipsis.left{direction:rtl;text-align:left}
"""


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pandas NaT/NA
    except (TypeError, ValueError):
        return False


def escape(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value), quote=True)


def textcolor(text: str, colors: Optional[Sequence[str]] = None) -> str:
    """A color for the text, the same for the same text in every session (not Python's salted hash)."""
    colors = colors or TAG_COLORS
    digest = hashlib.blake2b(str(text).encode(), digest_size=4).digest()
    return colors[int.from_bytes(digest, "big") % len(colors)]


def status_group(status: Any) -> str:
    name = str(status).upper()
    return next((group for group, (members, _) in STATUS_GROUPS.items() if name in members), "pending")


def format_status(status: Any, na_rep: str = NA) -> str:
    """An icon (with the status as tooltip and text) for a run status."""
    if _missing(status):
        return na_rep
    group = status_group(status)
    return (f'<span class="pgtrack-status pgtrack-{group}" title="{escape(status)}">'
            f'<span style="color:{STATUS_GROUPS[group][1]}">\u25cf</span> {escape(status)}</span>')


def format_tags(tags: Optional[Mapping[str, Any]], na_rep: str = NA) -> str:
    """Tag bubbles, colored by tag name; the tag ``marked`` shows as a star. The input is not modified."""
    if _missing(tags) or not tags:
        return na_rep if _missing(tags) else ""
    bubbles = []
    for tag in sorted(tags):
        if tag == "marked":
            bubbles.append(format_marked(True))
        else:
            bubbles.append(f'<span class="pgtrack-tag" style="background:{textcolor(tag)}">{escape(tag)}</span>')
    return "".join(bubbles)


def format_marked(is_marked: Any) -> str:
    """A gold star for a favourite (marked) run, else nothing."""
    return '<span title="marked">\u2b50</span>' if (not _missing(is_marked) and is_marked) else ""


def format_bool(b: Any, na_rep: str = NA) -> str:
    return na_rep if _missing(b) else ("\u2714" if b else "\u2718")


def format_float(v: Any, spec: str = ".2f", na_rep: str = NA) -> str:
    if _missing(v):
        return na_rep
    try:
        return escape(format(float(v), spec)) if math.isfinite(float(v)) else escape(v)
    except (TypeError, ValueError):
        return escape(v)


def format_percentage(v: Any, mul: float = 100, spec: str = ".1f", na_rep: str = NA) -> str:
    """A percentage with a bar in the background (v in [0, 1] with the default mul)."""
    if _missing(v):
        return na_rep
    pct = float(v) * mul
    width = min(max(pct, 0.0), 100.0)
    return f'<span class="pgtrack-pct"><span style="width:{width:.1f}%"></span><b>{format(pct, spec)}%</b></span>'


def _aware(dt: _dt.datetime) -> _dt.datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=_dt.timezone.utc)


def format_datetime(dt: Any, sep: str = " ", timespec: str = "seconds", na_rep: str = NA) -> str:
    if _missing(dt):
        return na_rep
    return escape(dt.isoformat(sep=sep, timespec=timespec))


def format_timedelta(td: Any, na_rep: str = NA) -> str:
    """A duration in words: 0.4 seconds, 45 seconds, 3 minutes, 2.5 hours, 4 days."""
    if _missing(td):
        return na_rep
    seconds = abs(td.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            amount = seconds / size
            text = f"{amount:.0f}" if amount >= 10 or amount == int(amount) else f"{amount:.1f}"
            return f"{text} {unit}{'' if text == '1' else 's'}"
    text = f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"
    return f"{text} second{'' if text == '1' else 's'}"


def format_datetime_relative(dt: Any, sep: str = " ", timespec: str = "seconds", na_rep: str = NA,
                             now: Optional[_dt.datetime] = None) -> str:
    """Time since dt in words ("3 hours ago"), the exact time as tooltip."""
    if _missing(dt):
        return na_rep
    now = now or _dt.datetime.now(_dt.timezone.utc)
    delta = now - _aware(dt)
    words = format_timedelta(delta) + (" ago" if delta.total_seconds() >= 0 else " from now")
    return f'<span title="{format_datetime(dt, sep, timespec)}">{words}</span>'


def format_string(s: Any, ellipsis: Any = "left", na_rep: str = NA) -> str:
    """Escaped text; long text is cut with an ellipsis on the left (the end shows) or, with
    ellipsis=True, on the right; the whole text is the tooltip. ellipsis=False leaves it as is."""
    if _missing(s):
        return na_rep
    if ellipsis is False:
        return escape(s)
    side = " left" if ellipsis == "left" else ""
    return f'<span class="pgtrack-ellipsis{side}" title="{escape(s)}">{escape(s)}</span>'


DEFAULT_FORMATTING: Dict[str, Callable[[Any], str]] = {
    " ": format_marked, "m": format_marked, "marked": format_marked,
    "s": format_status, "status": format_status,
    "tags": format_tags,
    "progress": format_percentage,
}


def format_dataframe(df: Any, formatting: Optional[Dict[str, Callable[[Any], str]]] = None, na_rep: str = NA,
                     relative_datetimes: bool = True, string_ellipsis: Any = "left") -> Any:
    """A copy of the DataFrame with every cell turned into escaped HTML: named columns by
    DEFAULT_FORMATTING (overridden by ``formatting``; names case-insensitive), datetimes relative
    (or ISO), timedeltas in words, floats with 2 decimals, strings with an ellipsis."""
    pd = require("pandas")
    rules = {k.lower(): v for k, v in {**DEFAULT_FORMATTING, **(formatting or {})}.items()}
    out = df.copy()
    for column in out.columns:
        rule = rules.get(str(column).lower())
        series = out[column]
        if rule is None:
            if pd.api.types.is_datetime64_any_dtype(series):
                rule = format_datetime_relative if relative_datetimes else format_datetime
            elif pd.api.types.is_timedelta64_dtype(series):
                rule = format_timedelta
            elif pd.api.types.is_bool_dtype(series):
                rule = format_bool
            elif pd.api.types.is_float_dtype(series):
                rule = format_float
            elif pd.api.types.is_integer_dtype(series):
                rule = escape
            else:
                rule = lambda v: format_string(v, string_ellipsis, na_rep)  # noqa: E731
        out[column] = [na_rep if (rule is not format_tags and _missing(v)) else rule(v) for v in series]
    out.columns = [escape(c) for c in out.columns]
    return out


def init_notebook_mode() -> None:
    """Add pgtrack's stylesheet to the notebook."""
    display = require("IPython.display", extra="notebook")
    display.display(display.HTML(f"<style>{CSS}</style>"))
