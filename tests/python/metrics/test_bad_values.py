"""A bad value costs that value alone, and is heard of where it was logged: a value no column could
hold is refused by the call that logged it; a value the server refuses only at a buffered flush (a
retyped column, a domain's CHECK) costs that row, the other rows are stored, a warning says so once,
runs.metric_rows_rejected counts it, and no later call raises because of it."""
import json
import subprocess
import sys
import warnings

import psycopg
import pytest

import pgtrack
from pgtrack.errors import SchemaValidationError


def _values(client, run_id, column):
    return client.execute(f'SELECT step, "{column}" FROM pgtrack.metrics WHERE run_id = %s AND "{column}" IS NOT NULL '
                          "ORDER BY step", (run_id,))


def test_a_value_no_column_could_hold_is_refused_by_its_own_call(client):
    run = pgtrack.Experiment(client, name="bad").get_run()
    client.add_metric("val_loss")
    with run.track(heartbeat=None, max_rows=500):
        for step in range(50):
            if step == 2:
                with pytest.raises(SchemaValidationError) as info:
                    run.add_metrics(step=step, val_loss="0.3x")  # the review's value
                assert "'val_loss'" in info.value.message and "'0.3x' is not a number" in info.value.message
                continue
            run.add_metrics(step=step, val_loss=1.0 / (step + 1))
    assert len(_values(client, run.id, "val_loss")) == 49  # every good row, the bad one alone refused
    assert run.refresh().status == "COMPLETED"


def test_a_new_metric_takes_numbers_and_says_how_to_store_text(client):
    run = pgtrack.Experiment(client, name="bad").get_run()
    with pytest.raises(SchemaValidationError) as info:
        run.add_metrics(step=1, note="hello")
    assert "new double precision column" in info.value.message and "add_metric('note', 'text')" in info.value.hint
    assert "note" not in client.metric_names()
    client.add_metric("note", "text")  # the hint's way
    run.add_metrics(step=1, note="hello")
    assert _values(client, run.id, "note") == [(1, "hello")]


def test_numbers_in_any_dress_are_numbers(client):
    np = pytest.importorskip("numpy")
    run = pgtrack.Experiment(client, name="bad").get_run()
    client.add_metric("x")
    with run.track(heartbeat=None):
        for step, value in enumerate([7, 1.5, np.float32(0.5), np.int64(3), np.array(2.5), "0.25", "NaN", "inf", None]):
            run.add_metrics(step=step, x=value)
        for value in (True, 10 ** 400, [1.0], {"a": 1}, b"1"):  # a flag, too big, not numbers: refused at the call
            with pytest.raises(SchemaValidationError, match="invalid metric value"):
                run.add_metrics(step=99, x=value)
    stored = dict(_values(client, run.id, "x"))
    assert stored[0] == 7.0 and stored[1] == 1.5 and stored[2] == 0.5 and stored[3] == 3.0 and stored[4] == 2.5
    assert stored[5] == 0.25 and stored[6] != stored[6] and stored[7] == float("inf") and 8 not in stored and 99 not in stored


def test_a_row_the_server_refuses_at_a_flush_costs_that_row_alone(client, dbname):
    client.execute("CREATE DOMAIN public.prob01 AS float8 CHECK (VALUE BETWEEN 0 AND 1)")  # the owner's domain
    client.add_metric("prob", "public.prob01")
    client.add_metric("loss")
    run = pgtrack.Experiment(client, name="bad").get_run()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with run.track(heartbeat=None, max_rows=10):
            for step in range(30):  # the client cannot know the CHECK: steps 7 and 23 fail at the server
                run.add_metrics(step=step, loss=float(step), prob=1.5 if step in (7, 23) else 0.5)
    refused = [str(w.message) for w in seen if "refused" in str(w.message)]
    assert len(refused) == 1 and "step 7" in refused[0]  # once, naming the first
    assert [s for s, _ in _values(client, run.id, "loss")] == [s for s in range(30) if s not in (7, 23)]
    assert client.value("SELECT metric_rows_rejected FROM pgtrack.runs WHERE id = %s", (run.id,)) == 2
    assert run.refresh().status == "COMPLETED"
    shown = subprocess.run([sys.executable, "-m", "pgtrack", "inspect", str(run.id), "--json"], capture_output=True,
                           text=True, timeout=60, env={**__import__("os").environ, "PGDATABASE": dbname})
    assert json.loads(shown.stdout)["metric_rows_rejected"] == 2


def test_a_column_retyped_under_a_buffer_costs_only_the_rows_it_cannot_take(client, conn):
    client.add_metric("acc")
    run = pgtrack.Experiment(client, name="bad").get_run()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with run.track(heartbeat=None, max_rows=1000, max_seconds=3600):
            run.add_metrics(step=0, acc=1)  # an integer column takes it after the retype; 0.5 it cannot
            run.add_metrics(step=1, acc=0.5)
            # the admin retypes acc while the rows wait in the buffer
            conn.execute("SELECT pgtrack.drop_metric('acc', force => true), pgtrack.add_metric('acc', 'integer')")
            run.add_metrics(step=2, acc=3)
    assert _values(client, run.id, "acc") == [(0, 1), (2, 3)]
    assert client.value("SELECT metric_rows_rejected FROM pgtrack.runs WHERE id = %s", (run.id,)) == 1


def test_run_count_rejected_is_fenced(conn):
    exp = conn.execute("SELECT pgtrack.experiment('f')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.register(%s, '{\"k\": 1}', NULL, 'claim_if_stale', "
                                "'1 hour')", (exp,)).fetchone()
    assert conn.execute("SELECT pgtrack.run_count_rejected(%s, 2, attempt => %s)", (run, attempt)).fetchone()[0] == 2
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.run_count_rejected(%s, 1, attempt => %s)", (run, attempt + 1))
    assert info.value.sqlstate == "PT004"
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.run_count_rejected(%s, -1)", (run,))
    assert info.value.sqlstate == "PT003"
