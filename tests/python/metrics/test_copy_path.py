"""The plain-insert paths for new steps: the COPY path of buffered flushes (pgtrack._copy), used for
new steps of float metrics, and run_add_metrics_batch's plain INSERT. Every other batch (a step logged
again, values COPY cannot carry, a raw INSERT racing it, a column whose type changed under the client's
cache) goes through the upsert, with the upsert's results and errors. ``_copy.copy`` is wrapped
(not replaced) to see which path each flush took."""
import datetime as dt
import threading
import time

import psycopg
import pytest

import pgtrack
from pgtrack import _copy, _copy_data


def metrics(client, run_id, columns="step, loss, acc"):
    return client.execute(f"SELECT {columns} FROM pgtrack.metrics WHERE run_id = %s ORDER BY step, progress", (run_id,))


def race_with_a_raw_row(dbname, run, write, statement_like: str) -> None:
    """Another session inserts step 5 of the run by hand, uncommitted; write() runs in a thread until
    its statement (pg_stat_activity.query LIKE statement_like) waits on that row; then the raw row
    commits and write() finishes."""
    raw = psycopg.connect(dbname=dbname)
    raw.execute("INSERT INTO pgtrack.metrics (run_id, experiment_id, step, loss, acc) VALUES (%s, %s, 5, 99, 99)",
                (run.id, run.experiment_id))  # not committed yet: invisible to the range checks
    thread = threading.Thread(target=write)
    thread.start()
    watcher = pgtrack.Client(dbname=dbname)
    deadline = time.monotonic() + 10
    while not watcher.value("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                            (statement_like,)) and time.monotonic() < deadline:
        time.sleep(0.02)
    watcher.close()
    assert time.monotonic() < deadline, f"{statement_like} never waited on the uncommitted row"
    raw.commit()
    thread.join(10)
    raw.close()


def test_new_steps_are_copied_and_the_run_is_touched(client, paths):
    run = pgtrack.Experiment(client, name="c").get_run()
    run.writer.open_buffer(5, 3600)  # what track() does, without its start (which sets time_updated)
    assert client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,)) is None
    for step in range(12):
        run.add_metrics(step=step, loss=step / 10, acc=None if step % 2 else 1)
    run.flush()
    assert paths == [5, 5, 2]
    assert metrics(client, run.id) == [(s, s / 10, None if s % 2 else 1.0) for s in range(12)]
    assert client.value("SELECT experiment_id FROM pgtrack.metrics WHERE run_id = %s LIMIT 1", (run.id,)) == run.experiment_id
    assert client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,)) is not None


def test_steps_logged_again_are_merged_by_the_upsert(client, paths):
    run = pgtrack.Experiment(client, name="c").get_run()
    with run.track(max_rows=1000, max_seconds=3600):
        for step in range(4):
            run.add_metrics(step=step, loss=1.0)
        run.flush()
        for step in range(4):
            run.add_metrics(step=step, acc=0.5)  # the same steps: rows of this range are stored
    assert paths == [4, None]
    assert metrics(client, run.id) == [(s, 1.0, 0.5) for s in range(4)]


def test_a_step_repeated_in_one_batch_is_merged_before_the_copy(client, paths):
    run = pgtrack.Experiment(client, name="c").get_run()
    with run.track():
        run.add_metrics(step=1, loss=0.5)
        run.add_metrics(step=1, acc=0.9)
        run.add_metrics(step=1, progress=0.5, loss=0.7)
        run.add_metrics(step=1, loss=0.4, acc=None)  # None leaves acc alone, as in the upsert
    assert paths == [2]
    assert metrics(client, run.id, "step, progress, loss, acc") == [(1, 0.0, 0.4, 0.9), (1, 0.5, 0.7, None)]


def test_values_copy_cannot_carry_go_through_the_upsert(client, paths):
    client.add_metric("note", "text")
    client.add_metric("extra", "jsonb")
    run = pgtrack.Experiment(client, name="c").get_run()
    with pytest.raises(pgtrack.SchemaValidationError, match="invalid metric value"):
        with run.track():
            run.add_metrics(step=1, loss=True)  # a bool is not a number: refused by its own call, before any path
    assert paths == [] and metrics(client, run.id) == []
    run = pgtrack.Experiment(client, name="c").get_run()
    with run.track():
        run.add_metrics(step=1, note="warm-up", extra={"lr": [0.1, 0.01]})
        run.add_metrics(step=2, loss=2)  # the batch is not all floats: one upsert for both rows
    assert paths == [None]  # (the refused bool above reached no path)
    assert metrics(client, run.id, "step, loss, note, extra") == [(1, None, "warm-up", {"lr": [0.1, 0.01]}), (2, 2.0, None, None)]


def test_a_value_no_double_holds_is_refused_by_its_call(client, paths):
    run = pgtrack.Experiment(client, name="c").get_run()
    with pytest.raises(pgtrack.SchemaValidationError, match="invalid metric value"):
        with run.track():
            run.add_metrics(step=1, loss=10 ** 400)  # no double holds it: refused by its own call (pgtrack._metric_values)
    assert paths == [] and metrics(client, run.id) == []


def test_a_column_retyped_behind_the_cache_falls_back(client, paths):
    run = pgtrack.Experiment(client, name="c").get_run()
    client.metric_names()  # cached: loss is double precision
    client.execute("SELECT pgtrack.drop_metric('loss', true)")
    client.execute("SELECT pgtrack.add_metric('loss', 'numeric')")
    with run.track():
        run.add_metrics(step=1, loss=0.25)
    assert paths == [None]  # the binary COPY was refused (numeric), the upsert converted the value
    assert client.value("SELECT loss FROM pgtrack.metrics WHERE run_id = %s", (run.id,)) == pytest.approx(0.25)


def test_a_lost_lease_writes_nothing(dbname, client, paths):
    exp = pgtrack.Experiment(client, name="c")
    exp.declare_identifying("k", "int")
    holder = exp.register({"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
    holder.writer.open_buffer(1000, 3600)
    holder.add_metrics(step=1, loss=1.0)
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (holder.id,))
    other = pgtrack.Client(dbname=dbname)
    thief = pgtrack.Experiment(other, experiment_id=exp.id).register(
        {"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
    other.close()
    assert thief.attempt == 2
    with pytest.raises(pgtrack.LeaseLostError):
        holder.flush()
    assert holder.lease_lost and paths == []  # refused by _metrics_copy_begin: no fallback
    assert metrics(client, holder.id) == []


def test_a_raw_insert_racing_the_copy_is_merged(dbname, client, paths):
    """Another session inserts step 5 of the run by hand and commits while the flush's COPY waits on it:
    the primary key refuses the COPY, and the upsert writes the batch over the raw row."""
    run = pgtrack.Experiment(client, name="c").get_run()
    run.writer.open_buffer(1000, 3600)
    for step in range(10):
        run.add_metrics(step=step, loss=float(step))
    race_with_a_raw_row(dbname, run, run.flush, "%; COPY pgtrack.metrics%")
    assert paths == [None]
    assert metrics(client, run.id) == [(s, float(s), 99.0 if s == 5 else None) for s in range(10)]


def test_inside_a_transaction_block_the_upsert_is_used(client, paths):
    run = pgtrack.Experiment(client, name="c").get_run()
    run.writer.open_buffer(1000, 3600)
    with client.connect():
        run.add_metrics(step=1, loss=1.0)
        run.flush()
    assert paths == [] and metrics(client, run.id) == [(1, 1.0, None)]


def test_a_raw_insert_racing_the_batch_writer_is_merged(dbname, client):
    """run_add_metrics_batch inserts new steps without ON CONFLICT; another session's uncommitted row
    for one of them makes it wait, then fail on the primary key, and it writes the batch again merging."""
    run = pgtrack.Experiment(client, name="c").get_run()
    rows = '[' + ', '.join(f'{{"step": {s}, "loss": {s}}}' for s in range(10)) + ']'
    result = {}
    race_with_a_raw_row(dbname, run, lambda: result.update(
        n=client.value("SELECT pgtrack.run_add_metrics_batch(%s, %s::jsonb)", (run.id, rows))), "%run_add_metrics_batch%")
    assert result == {"n": 10}
    assert metrics(client, run.id) == [(s, float(s), 99.0 if s == 5 else None) for s in range(10)]


def test_plan_reads_absent_step_and_progress_as_zero():
    """As run_add_metrics_batch does: rows handed to a flush by other code may leave them out."""
    assert _copy_data.plan([{"loss": 1.0}, {"step": 2, "progress": None, "loss": 2}], {"loss"}) == (
        ["loss"], [(0, 0.0, 1.0), (2, 0.0, 2)])
    assert _copy_data.plan([{"loss": True}], {"loss"}) is None
    assert _copy_data.plan([{"note": 1.0}], {"loss"}) is None


def test_the_column_encoding_matches_the_row_encoding():
    """The usual batch is encoded column by column (strided copies); anything else row by row. The two
    produce the same COPY data, and the column path steps aside for what it does not handle."""
    rows = [{"step": s, "progress": s / 4, "loss": s * 0.5, "acc": s} for s in range(7)]
    uniform = _copy_data._uniform(rows, {"loss", "acc"})
    assert uniform is not None and uniform.names == ["loss", "acc"] and (uniform.first, uniform.last) == ((0, 0.0), (6, 1.5))
    assert uniform.encode(12, 3) == _copy_data.payload(12, 3, _copy_data.plan(rows, {"loss", "acc"})[1])
    for odd in ({**rows[2], "loss": None}, {**rows[2], "loss": True}, {**rows[2], "step": 1}, {"step": 2, "loss": 1.0},
                {**rows[2], "loss": 10 ** 400}, {**rows[2], "step": 2 ** 63}):
        changed = rows[:2] + [odd] + rows[3:]
        assert _copy_data._uniform(changed, {"loss", "acc"}) is None, odd


def test_a_copy_interrupted_half_way_writes_nothing_and_the_client_goes_on(client, paths, monkeypatch):
    """The COPY runs on the caller's connection through libpq; stopped between its two round trips (here
    by a KeyboardInterrupt while the rows are encoded), the connection is dropped, the server rolls the
    batch back, and the next call opens a new connection."""
    run = pgtrack.Experiment(client, name="c").get_run()
    run.writer.open_buffer(1000, 3600)
    for step in range(5):
        run.add_metrics(step=step, loss=float(step))

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(_copy._Exchange, "_encode", staticmethod(interrupted))
    before = client._conn
    with pytest.raises(KeyboardInterrupt):
        run.flush()
    assert before.closed
    monkeypatch.undo()
    assert metrics(client, run.id) == []
    run.add_metrics(step=9, loss=9.0)
    run.flush()
    assert metrics(client, run.id) == [(9, 9.0, None)]
