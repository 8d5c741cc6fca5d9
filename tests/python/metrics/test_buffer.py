"""Buffered logging: flushed by count, by age (background thread), at every block exit; a crash loses
at most the unflushed window; NaN/inf arrive intact; a bad name fails at the call that used it."""
import math
import signal
import time

import pytest

import pgtrack
from conftest import run_python


def stored(client, run_id):
    return client.execute("SELECT step, loss, acc FROM pgtrack.metrics WHERE run_id = %s ORDER BY step", (run_id,))


def test_buffered_rows_reach_the_server_by_count(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    with run.track(max_rows=10, max_seconds=3600):
        for step in range(25):
            run.add_metrics(step=step, loss=step)
            if step == 9:  # the 10th row filled the buffer: one batch went out
                assert len(stored(client, run.id)) == 10
        assert len(stored(client, run.id)) == 20 and len(run.writer.buffer) == 5
    assert [r[0] for r in stored(client, run.id)] == list(range(25))


def test_aged_rows_are_flushed_by_the_background_thread(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    with run.track(max_rows=1000, max_seconds=0.2):
        run.add_metrics(step=1, loss=1.0)
        deadline = time.monotonic() + 10
        while not stored(client, run.id) and time.monotonic() < deadline:
            time.sleep(0.05)  # the training loop is busy elsewhere: no add_metrics call
        assert stored(client, run.id) == [(1, 1.0, None)]


def test_outside_track_every_call_is_written_at_once(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    run.add_metrics(step=1, loss=0.5)
    assert stored(client, run.id) == [(1, 0.5, None)]


def test_unbuffered_track_writes_every_step(client):
    run = pgtrack.Experiment(client, name="b").get_run(buffer=False)
    with run.track():
        run.add_metrics(step=1, loss=0.5)
        assert stored(client, run.id) == [(1, 0.5, None)]


def test_calls_for_one_step_merge_and_later_values_win(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    with run.track():
        run.add_metrics(step=1, loss=0.5)
        run.add_metrics(step=1, acc=0.9)
        run.add_metrics(step=1, loss=0.4)
    assert stored(client, run.id) == [(1, 0.4, 0.9)]


def test_nan_and_infinities_arrive_intact(client):
    np = pytest.importorskip("numpy")
    run = pgtrack.Experiment(client, name="b").get_run()
    with run.track():
        run.add_metrics(step=1, loss=math.nan, acc=math.inf)
        run.add_metrics(step=2, loss=-math.inf, acc=np.float32(0.25))
    run.add_metrics(step=3, loss=math.nan)  # unbuffered path too
    rows = stored(client, run.id)
    assert math.isnan(rows[0][1]) and rows[0][2] == math.inf
    assert rows[1][1] == -math.inf and rows[1][2] == 0.25 and math.isnan(rows[2][1])


def test_a_metric_nobody_declared_is_created_on_first_use(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    with run.track():
        run.add_metrics(step=1, loss=1.0)
        run.add_metrics(step=2, **{"val/loss": 0.5})  # sent unbuffered with add_missing: the column is made
        run.add_metrics(step=3, **{"val/loss": 0.25})  # known now: buffered again
    assert client.value('SELECT array_agg("val/loss" ORDER BY step) FROM pgtrack.metrics WHERE run_id = %s',
                        (run.id,)) == [None, 0.5, 0.25]
    assert run.refresh().status == "COMPLETED"


def test_an_invalid_metric_name_fails_at_the_call_that_used_it(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    with pytest.raises(pgtrack.SchemaValidationError, match="xmin"):
        with run.track():
            run.add_metrics(step=1, loss=1.0)
            run.add_metrics(step=2, xmin=1.0)
    assert stored(client, run.id) == [(1, 1.0, None)]  # the good row before it was flushed, not lost
    assert run.refresh().status == "FAILED"


def test_metric_added_meanwhile_is_accepted(client):
    run = pgtrack.Experiment(client, name="b").get_run()
    with run.track():
        run.add_metrics(step=1, loss=1.0)
        client.execute("SELECT pgtrack.add_metric('lr')")
        run.add_metrics(step=2, lr=0.1)
    assert client.value("SELECT lr FROM pgtrack.metrics WHERE run_id = %s AND step = 2", (run.id,)) == 0.1


def test_sigkill_loses_at_most_the_unflushed_window(client, dbname):
    code, out, _ = run_python("""
        import sys, time, pgtrack
        client = pgtrack.Client(dbname=sys.argv[1])
        run = pgtrack.Experiment(client, name="b").get_run()
        print(run.id, flush=True)
        with run.track(max_rows=10, max_seconds=3600):
            for step in range(25):
                run.add_metrics(step=step, loss=step)
            print("logged", flush=True)
            time.sleep(60)
    """, dbname, signal_after="logged", signum=signal.SIGKILL)
    assert code == -signal.SIGKILL
    run_id = int(out.split()[0])
    assert [r[0] for r in stored(client, run_id)] == list(range(20))  # 5 rows in the window are gone
    assert client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (run_id,)) == "RUNNING"


def test_interpreter_exit_flushes_rows_buffered_outside_a_block(client, dbname):
    code, out, err = run_python("""
        import sys, pgtrack
        client = pgtrack.Client(dbname=sys.argv[1])
        run = pgtrack.Experiment(client, name="b").get_run()
        print(run.id, flush=True)
        run.writer.open_buffer(1000, 3600)   # what track() does; the process ends without leaving a block
        run.add_metrics(step=7, loss=0.7)
    """, dbname)
    assert code == 0, err
    assert stored(client, int(out.split()[0])) == [(7, 0.7, None)]
