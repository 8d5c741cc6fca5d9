"""The typed statement of unbuffered steps (pgtrack._step): a step of float metrics outside
client.connect() is one INSERT ... ON CONFLICT with the touch and lease check in a CTE; everything else,
and any step the statement cannot write, goes through run_add_metrics with its results and errors.
``_step.write`` is wrapped (not replaced) to see which path each step took: True for the statement,
False where run_add_metrics wrote the step or raised."""
import datetime as dt
import threading

import psycopg
import pytest

import pgtrack


def metrics(client, run_id, columns="step, progress, loss, acc"):
    return client.execute(f"SELECT {columns} FROM pgtrack.metrics WHERE run_id = %s ORDER BY step, progress", (run_id,))


def test_a_step_is_one_statement_that_touches_the_run_and_merges(client, row_paths):
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    assert client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,)) is None
    run.add_metrics(step=1, loss=0.5, acc=1)
    run.add_metrics(step=1, acc=None, loss=0.25)  # the same step again: merged, None keeps acc
    run.add_metrics(step=2, progress=0.5, acc=0.75)
    run.add_metrics(step=3)  # no metric at all: the row, as run_add_metrics writes it
    assert row_paths == [True, True, True, True]
    assert metrics(client, run.id) == [(1, 0.0, 0.25, 1.0), (2, 0.5, None, 0.75), (3, 0.0, None, None)]
    assert client.value("SELECT experiment_id FROM pgtrack.metrics WHERE run_id = %s LIMIT 1", (run.id,)) == run.experiment_id
    assert client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,)) is not None


def test_it_writes_what_run_add_metrics_writes(client, row_paths):
    exp = pgtrack.Experiment(client, name="m")
    steps = [dict(step=0, loss=1.0), dict(step=0, acc=2), dict(step=7, progress=0.25, loss=-0.0, acc=float("inf")),
             dict(step=-3, loss=float("nan")), dict(step=2 ** 62, acc=1e-300), dict(step=7, progress=0.25, acc=None)]
    fast, slow = exp.get_run(buffer=False), exp.get_run(buffer=False)
    for values in steps:
        fast.add_metrics(**values)
        client.execute("SELECT pgtrack.run_add_metrics(%s, %s, %s, %s::jsonb)",
                       (slow.id, values["step"], values.get("progress", 0),
                        pgtrack._jsonvalues.to_json({k: v for k, v in values.items() if k not in ("step", "progress")})))
    assert row_paths == [True] * len(steps)
    as_text = "step, progress, loss::text, acc::text"  # NaN == NaN as text
    assert metrics(client, fast.id, as_text) == metrics(client, slow.id, as_text)
    assert len(metrics(client, fast.id)) == 4


def test_values_it_cannot_carry_go_through_run_add_metrics(client, row_paths):
    client.add_metric("note", "text")
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    run.add_metrics(step=1, note="warm-up")  # not a double precision column
    run.add_metrics(step=2, loss=2)  # an int: the statement, as a double
    with pytest.raises(pgtrack.SchemaValidationError, match="invalid metric value"):
        run.add_metrics(step=3, loss=True)  # a bool is not a number: refused, not stored as 1.0
    with pytest.raises(pgtrack.SchemaValidationError, match="invalid metric value"):
        run.add_metrics(step=4, loss=10 ** 400)  # no double holds it
    run.add_metrics(step=5, new_metric=1.0)  # a new name: straight to the function, which adds it
    assert row_paths == [False, True]  # the bool and 10 ** 400 are refused by the call itself (pgtrack._metric_values)
    assert metrics(client, run.id, "step, loss, note") == [(1, None, "warm-up"), (2, 2.0, None), (5, None, None)]
    assert client.value("SELECT new_metric FROM pgtrack.metrics WHERE run_id = %s AND step = 5", (run.id,)) == 1.0


def test_a_column_retyped_behind_the_cache_falls_back(client, row_paths):
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    for step in range(10, 16):  # cached: loss is double precision; psycopg prepares the statement
        run.add_metrics(step=step, loss=1.0)
    client.execute("SELECT pgtrack.drop_metric('loss', true)")
    client.execute("SELECT pgtrack.add_metric('loss', 'integer')")
    with pytest.raises(pgtrack.SchemaValidationError, match="invalid metric value"):
        run.add_metrics(step=1, loss=0.25)  # not rounded to 0 by the statement: the function refuses it
    run.add_metrics(step=2, loss=3)
    assert row_paths == [True] * 6 + [False, False]
    assert metrics(client, run.id, "step, loss") == [(2, 3)] + [(s, None) for s in range(10, 16)]
    assert client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,)) is not None


def test_a_lost_lease_writes_nothing_and_raises(dbname, client, row_paths):
    exp = pgtrack.Experiment(client, name="m")
    exp.declare_identifying("k", "int")
    holder = exp.register({"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
    holder.writer.buffer = None
    holder.add_metrics(step=1, loss=1.0)
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (holder.id,))
    other = pgtrack.Client(dbname=dbname)
    thief = pgtrack.Experiment(other, experiment_id=exp.id).register(
        {"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
    assert thief.attempt == 2
    with pytest.raises(pgtrack.LeaseLostError):
        holder.add_metrics(step=2, loss=2.0)
    assert holder.lease_lost and row_paths == [True, False]  # no run matched: run_add_metrics said why
    thief.add_metrics(step=2, loss=3.0)
    other.close()
    assert metrics(client, holder.id, "step, loss") == [(1, 1.0), (2, 3.0)]


def test_a_run_that_is_gone_raises_not_found(client, row_paths):
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    client.execute("DELETE FROM pgtrack.runs WHERE id = %s", (run.id,))
    with pytest.raises(pgtrack.NotFoundError):
        run.add_metrics(step=1, loss=1.0)
    assert row_paths == [False]


def test_the_statement_locks_the_run_row(dbname, client, row_paths):
    """The touch locks the run's row, as run_add_metrics does: while another transaction holds it (a
    claim does, until it commits the new attempt) the step waits, so a step and a claim cannot
    interleave; once the lock is released the step is written."""
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    locker = psycopg.connect(dbname=dbname)
    locker.execute("SELECT 1 FROM pgtrack.runs WHERE id = %s FOR UPDATE", (run.id,))
    thread = threading.Thread(target=lambda: run.add_metrics(step=1, loss=1.0))
    thread.start()
    thread.join(0.5)
    assert thread.is_alive()  # waits on the row lock
    locker.rollback()
    thread.join(10)
    locker.close()
    assert row_paths == [True] and metrics(client, run.id, "step, loss") == [(1, 1.0)]


def test_inside_a_transaction_block_run_add_metrics_is_used(client, row_paths):
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    with client.connect():
        run.add_metrics(step=1, loss=1.0)
    assert row_paths == [] and metrics(client, run.id, "step, loss") == [(1, 1.0)]


def test_a_connection_the_server_closed_is_replaced_and_the_step_written_once(dbname, client, row_paths):
    """The statement uses the open connection without checking it first: when the server has closed
    it, the statement fails before it runs, and run_add_metrics writes the step on a new connection."""
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    run.add_metrics(step=1, loss=1.0)
    before = client.value("SELECT pg_backend_pid()")
    with psycopg.connect(dbname=dbname, autocommit=True) as admin:
        admin.execute("SELECT pg_catalog.pg_terminate_backend(%s::int, 10000::bigint)", (before,))  # waits until it has exited
    run.add_metrics(step=2, loss=2.0)  # no error: written on a new connection
    run.add_metrics(step=3, loss=3.0)
    assert row_paths == [True, True]  # step 2 raised inside the statement's call, then went to run_add_metrics
    assert client.value("SELECT pg_backend_pid()") != before
    assert metrics(client, run.id, "step, loss") == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_a_timeout_of_the_statement_reaches_the_caller(dbname, client, row_paths):
    """An OperationalError on a connection that is still open (here statement_timeout while another
    session holds the run's row) is the caller's: nothing is retried behind its back."""
    run = pgtrack.Experiment(client, name="m").get_run(buffer=False)
    client.execute("SET statement_timeout = '200ms'")
    locker = psycopg.connect(dbname=dbname)
    locker.execute("SELECT 1 FROM pgtrack.runs WHERE id = %s FOR UPDATE", (run.id,))
    try:
        with pytest.raises(psycopg.errors.QueryCanceled):
            run.add_metrics(step=1, loss=1.0)
    finally:
        locker.rollback()
        locker.close()
        client.execute("RESET statement_timeout")
    assert row_paths == [] and metrics(client, run.id, "step, loss") == []
