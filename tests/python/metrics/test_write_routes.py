"""One contract for every route a metric value takes to pgtrack.metrics: the typed statement of an
unbuffered step (pgtrack._step), run_add_metrics, the binary COPY of a flush (pgtrack._copy)
and run_add_metrics_batch. Each route either writes exactly what the function would, or declines and
writes nothing, and its caller then sends the function (as Run does). So, whatever the route:

- calls for one (step, progress) merge: an absent or None value leaves the stored one alone;
- NaN, +-Infinity, -0.0 and the extremes of double precision are stored as given;
- a lost lease writes nothing and says so (LeaseLostError);
- an unknown metric writes nothing and says so (SchemaValidationError);
- a column retyped since the client cached the names gets the value converted, not refused;
- every name of the hostile corpus that is a column works as plain data.
"""
import math

import psycopg
import pytest
from psycopg import sql

import hostile
import pgtrack
from pgtrack import _copy, _step
from pgtrack._columns import MetricColumns
from pgtrack._lease import Lease
from pgtrack._sqlparts import ident
from pgtrack.errors import translate
from pgtrack._jsonvalues import to_json

ROUTES = ["statement", "function", "copy", "batch"]


class Writer:
    """Writes rows (dicts with step, progress and metric values) of one run by one route, falling back
    to run_add_metrics row by row when the route declines, as pgtrack.run.Run does."""

    def __init__(self, route, conn, run_id, experiment_id, attempt=None):
        self.route, self.conn, self.run_id, self.experiment_id, self.attempt = route, conn, run_id, experiment_id, attempt
        self.declined = 0

    def floats(self):
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM pgtrack.metric_columns() WHERE type = 'double precision'::regtype")}

    def write(self, rows, floats=None):
        floats = self.floats() if floats is None else floats
        try:
            if self.route == "statement":
                lease, columns = Lease(self.run_id, self.attempt, self.experiment_id), MetricColumns()
                left = [row for row in rows if not _step.write(
                    psycopg.RawCursor(self.conn), columns, lease, row.get("step", 0),
                    row.get("progress", 0.0), {k: v for k, v in row.items() if k not in ("step", "progress")}, floats)]
            elif self.route == "copy":
                left = rows if _copy.copy(self.conn, self.run_id, rows, floats, self.attempt, self.experiment_id) is None else []
            elif self.route == "batch":
                self.conn.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s::jsonb, true, attempt => %s, experiment_id => %s)",
                                  (self.run_id, to_json(rows), self.attempt, self.experiment_id))
                left = []
            else:
                left = rows
            self.declined += len(left) if self.route != "function" else 0
            for row in left:
                metrics = {k: v for k, v in row.items() if k not in ("step", "progress")}
                self.conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, %s, %s::jsonb, true, attempt => %s, experiment_id => %s)",
                                  (self.run_id, row.get("step", 0), row.get("progress", 0.0), to_json(metrics), self.attempt,
                                   self.experiment_id))
        except psycopg.Error as exc:
            raise translate(exc) from None


@pytest.fixture
def run(conn):
    exp = conn.execute("SELECT pgtrack.experiment('routes')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run_id, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'claim_if_stale', "
                                   "stale_after => '1 hour')", (exp,)).fetchone()
    for name in ("a", "b"):
        conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
    return exp, run_id, attempt


def stored(conn, run_id, *columns):
    query = sql.SQL("SELECT step, progress, {} FROM pgtrack.metrics WHERE run_id = %s ORDER BY 1, 2").format(
        sql.SQL(", ").join(map(ident, columns)))
    return conn.execute(query, (run_id,)).fetchall()


@pytest.mark.parametrize("route", ROUTES)
def test_calls_for_one_step_merge(conn, run, route):
    exp, run_id, attempt = run
    writer = Writer(route, conn, run_id, exp, attempt)
    writer.write([{"step": 1, "a": 1.0}, {"step": 2, "a": 2.0}])
    writer.write([{"step": 1, "b": 10.0, "a": None}, {"step": 3, "progress": 0.5, "b": 30.0}])
    assert stored(conn, run_id, "a", "b") == [(1, 0.0, 1.0, 10.0), (2, 0.0, 2.0, None), (3, 0.5, None, 30.0)]


@pytest.mark.parametrize("route", ROUTES)
def test_special_floats_are_stored_as_given(conn, run, route):
    exp, run_id, attempt = run
    values = [math.nan, math.inf, -math.inf, -0.0, 1.7976931348623157e308, 5e-324, -2.5]
    Writer(route, conn, run_id, exp, attempt).write([{"step": i, "a": v} for i, v in enumerate(values)])
    got = [row[2] for row in stored(conn, run_id, "a")]
    assert math.isnan(got[0]) and got[1:] == values[1:]
    assert math.copysign(1.0, got[3]) == 1.0  # -0.0 is stored as 0 on every route (a JSON number has no sign of zero)


@pytest.mark.parametrize("route", ROUTES)
def test_a_lost_lease_writes_nothing(conn, run, route):
    exp, run_id, attempt = run
    conn.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '2 hours' WHERE id = %s", (run_id,))
    taken = conn.execute("SELECT attempt FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'claim_if_stale', "
                         "stale_after => '1 hour')", (exp,)).fetchone()[0]
    assert taken == attempt + 1
    with pytest.raises(pgtrack.LeaseLostError):
        Writer(route, conn, run_id, exp, attempt).write([{"step": 1, "a": 1.0}, {"step": 2, "a": 2.0}])
    assert stored(conn, run_id, "a") == []


@pytest.mark.parametrize("route", ROUTES)
def test_an_unknown_metric_writes_nothing(conn, run, route):
    exp, run_id, attempt = run
    with pytest.raises(pgtrack.SchemaValidationError, match="nope"):
        Writer(route, conn, run_id, exp, attempt).write([{"step": 1, "a": 1.0, "nope": 2.0}], floats={"a", "b", "nope"})
    assert stored(conn, run_id, "a") == []


@pytest.mark.parametrize("route", ROUTES)
def test_a_column_retyped_behind_the_cache_gets_the_value_converted(conn, run, route):
    exp, run_id, attempt = run
    cached = {"a", "b"}  # what the client knew: both double precision
    conn.execute("SELECT pgtrack.drop_metric('b', true), pgtrack.add_metric('b', 'numeric')")
    Writer(route, conn, run_id, exp, attempt).write([{"step": 1, "b": 0.25}, {"step": 2, "b": 2.0}], floats=cached)
    assert stored(conn, run_id, "b") == [(1, 0.0, pytest.approx(0.25)), (2, 0.0, 2)]
    assert conn.execute("SELECT pg_typeof(b)::text FROM pgtrack.metrics LIMIT 1").fetchone()[0] == "numeric"


@pytest.mark.parametrize("route", ROUTES)
def test_corpus_names_are_plain_columns(conn, run, route):
    exp, run_id, attempt = run
    names = []
    for name in filter(hostile.storable, hostile.metric_names()):
        try:
            conn.execute("SELECT pgtrack.add_metric(%s)", (name,))
            names.append(name)
        except psycopg.Error:
            pass  # not a column name (PT003): test_names_are_data.py covers the refusals
    assert len(names) > 20
    writer = Writer(route, conn, run_id, exp, attempt)
    writer.write([{"step": 1, **{n: float(i) for i, n in enumerate(names)}}])
    assert stored(conn, run_id, *names) == [(1, 0.0, *[float(i) for i in range(len(names))])]
