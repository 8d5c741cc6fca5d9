"""The project's hostile corpus: adversarial names and values that every entry point taking a name or a
value is tested with (SQL functions, the Python API, the CLI, the dashboard, the report, the typed
views, migrate, the SQLTrack and wallow faces), and Hypothesis strategies that generate more of them.

Each entry says why it is here: the hole it would have opened, or the class of bug it stands for.
A surface must either take an entry as plain data (a column of exactly that name, a value stored and
shown as text) or refuse it with a clear pgtrack error (PT003) that changes nothing.
"""
from __future__ import annotations

from typing import List

# Quoting: SQL string and identifier quotes, dollar quotes (generated code is dollar-quoted), comments.
QUOTING: List[str] = [
    "x'); DROP TABLE pgtrack.runs; --",
    'x"; DROP TABLE pgtrack.runs; --',
    "Robert'); DELETE FROM pgtrack.experiments; --",
    "a\\' OR 1=1",
    "$$; DROP SCHEMA pgtrack CASCADE; $$",
    "lr$body$x",
    "$body$",
    "$x$",
    "$fn$",
    "$touch$",
    "*/BEGIN END$body$;ALTER ROLE CURRENT_USER SUPERUSER;SELECT $body$",
    "loss /* smoothed",
    "acc */ top1",
    "/* */",
    "-- comment",
    "a;b",
]

# Format and placeholder characters: psycopg (%s, %(x)s), format() (%1$s), printf, Jinja-ish braces.
PLACEHOLDERS: List[str] = ["cpu%", "a%s", "%(x)s", "%1$s", "%%", "{0}", "{{x}}", "100%_done"]

# Markup: HTML, script, the report's embedded JSON (an HTML comment opening turns on the parser's
# double-escaped script state), attributes.
MARKUP: List[str] = [
    "</script><b>bold</b><img src=x onerror=alert(1)>",
    "<!--<script>",
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "javascript:alert(1)",
    "&lt;b&gt;",
]

# Characters: backslashes, Unicode that renders unlike it reads (bidi override, zero width), non-BMP,
# lone surrogates (not encodable in UTF-8), NUL and other controls.
CHARACTERS: List[str] = [
    "back\\slash\\",
    "\u202eevil\u202c",
    "zero\u200bwidth",
    "\U0001F600 emoji",
    "Ünïcödé λ",
    "\ud800lone",
    "nul\x00byte",
    "tab\there",
    "new\nline",
    "bell\x07",
    " leading",
    "trailing ",
    "",
]

# Lengths around PostgreSQL's 63-byte identifier limit (NAMEDATALEN 64), in bytes, with a multi-byte
# character that would be split by truncation.
LENGTHS: List[str] = ["a" * 63, "a" * 64, "é" * 31 + "a", "é" * 32, "x" * 300]

# Names that collide with something: pgtrack's own columns, PL/pgSQL parameters and variables of
# generated code, system columns, SQL keywords, case-only twins, and pgtrack's own objects.
COLLISIONS: List[str] = [
    "run_id", "step", "progress", "experiment_id",
    "xmin", "ctid", "tableoid", "oid",
    "p_run_id", "p_metrics", "v_experiment", "v_now", "c_index", "p_value", "v_measure", "_step", "_ord",
    "select", "from", "user", "order", "null", "true",
    "Loss", "LOSS", "loss",
    "runs", "metrics", "experiments", "pgtrack", "pg_catalog", "public", "setup", "add_metric",
    "final_lr", "lr",
]

CORPUS: List[str] = QUOTING + PLACEHOLDERS + MARKUP + CHARACTERS + LENGTHS + COLLISIONS


def storable(text: str) -> bool:
    """True for text PostgreSQL can hold at all (no NUL, encodable as UTF-8): anything else must be
    refused before it reaches the server, with a pgtrack error."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def metric_names() -> List[str]:
    """Corpus entries offered as metric names (every entry: the surface accepts it or says PT003)."""
    return list(dict.fromkeys(CORPUS))


def _strategies():  # Hypothesis is a test dependency; imported lazily so this module loads without it
    from hypothesis import strategies as st

    specials = st.sampled_from(["$", "$$", "$body$", "/*", "*/", "--", "'", '"', "%", "%s", "\\", ";", "<", ">",
                                "<!--", "&", "\u202e", "\x00", "\n", " ", "é", "\U0001F600"])
    pieces = st.one_of(specials, st.text(max_size=6), st.sampled_from(COLLISIONS))
    names = st.lists(pieces, min_size=1, max_size=6).map("".join)
    return names


def names_strategy():
    """Hypothesis strategy: text built from the corpus' dangerous pieces, short enough to be names."""
    return _strategies()
