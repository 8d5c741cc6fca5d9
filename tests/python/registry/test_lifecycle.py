"""run_lifecycle(): wallow's lifecycle tests, plus its bugs fixed (takeover of a live run, finalise
then raise flipping COMPLETED to FAILED)."""
import datetime as dt

import pytest

import pgtrack


@pytest.fixture
def exp(client):
    e = pgtrack.Experiment(client, name="lifecycle")
    e.declare_identifying("task", "string")
    e.declare_identifying("seed", "int", default=0)
    client.execute("SELECT pgtrack.add_run_column('final_acc', 'double precision'), "
                   "pgtrack.add_run_column('wallclock_seconds', 'double precision'), pgtrack.add_run_column('host', 'text')")
    return e


def test_happy_path(exp):
    with pgtrack.run_lifecycle(exp, {"task": "a"}, {"host": "test-host-1"}) as h:
        assert h.uuid and h.run.status == "RUNNING" and h.attempt == 1 and h.run.refresh().host == "test-host-1"
        h.run.add_metrics(step=1, loss=0.5)
        h.finalise({"final_acc": 0.95})
    run = h.run.refresh()
    assert (run.status, run.final_acc, run.host) == ("COMPLETED", 0.95, "test-host-1")
    assert run.time_finished is not None and run.wallclock_seconds >= 0
    assert exp.client.value("SELECT loss FROM pgtrack.metrics WHERE run_id = %s", (run.id,)) == 0.5


def test_body_without_finalise_completes(exp):
    with pgtrack.run_lifecycle(exp, {"task": "a"}) as h:
        pass
    assert h.run.refresh().status == "COMPLETED"


def test_exception_fails_with_excerpt_and_reraises(exp):
    with pytest.raises(RuntimeError, match="boom"):
        with pgtrack.run_lifecycle(exp, {"task": "a"}) as h:
            raise RuntimeError("boom")
    run = h.run.refresh()
    assert run.status == "FAILED" and "RuntimeError: boom" in run.error


def test_completed_run_is_not_run_again_unless_forced(exp):
    with pgtrack.run_lifecycle(exp, {"task": "a"}) as h:
        h.finalise({"final_acc": 0.5})
    ran = []
    with pytest.raises(pgtrack.AlreadyCompleted) as info:
        with pgtrack.run_lifecycle(exp, {"task": "a"}):
            ran.append(1)
    assert not ran and info.value.run.uuid == h.uuid
    with pgtrack.run_lifecycle(exp, {"task": "a"}, force=True) as again:
        again.finalise({"final_acc": 0.99})
    assert again.uuid == h.uuid and again.attempt == 2 and again.run.refresh().final_acc == 0.99


def test_failed_run_is_rerun_without_force(exp):
    with pytest.raises(ValueError):
        with pgtrack.run_lifecycle(exp, {"task": "a"}):
            raise ValueError()
    with pgtrack.run_lifecycle(exp, {"task": "a"}) as h:
        pass
    assert h.run.refresh().status == "COMPLETED" and h.run.error is None


def test_live_run_of_another_worker_is_not_taken_over(exp):
    exp.register({"task": "a"}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=10))
    ran = []
    with pytest.raises(pgtrack.AlreadyRunning):
        with pgtrack.run_lifecycle(exp, {"task": "a"}):
            ran.append(1)
    assert not ran
    for task in ("a", "b"):  # wallow's sweep loop, as its README writes it, moves on to the next configuration
        try:
            with pgtrack.run_lifecycle(exp, {"task": task}):
                ran.append(task)
        except pgtrack.AlreadyCompleted:
            continue
    assert ran == ["b"]


def test_exception_after_finalise_keeps_completed(exp):
    with pytest.raises(KeyError):
        with pgtrack.run_lifecycle(exp, {"task": "a"}) as h:
            h.finalise({"final_acc": 0.7})
            h.finalise({"final_acc": 0.1})  # idempotent
            raise KeyError("after")
    run = h.run.refresh()
    assert (run.status, run.final_acc) == ("COMPLETED", 0.7)


def test_artefacts_dir_default_layout(exp, tmp_path):
    with pgtrack.run_lifecycle(exp, {"task": "a"}) as h:
        assert h.run.artefacts_dir(tmp_path).name == h.uuid
