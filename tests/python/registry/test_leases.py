"""Background heartbeat and leases: a run that stops heartbeating is taken over, and the old holder
learns it (run.lease_lost, then LeaseLostError) without overwriting the new attempt."""
import datetime as dt
import time

import pytest

import pgtrack


@pytest.fixture
def experiment(client):
    exp = pgtrack.Experiment(client, name="lease")
    exp.declare_identifying("k", "int")
    return exp


def test_background_heartbeat_keeps_time_updated_fresh(client, experiment):
    run = experiment.register({"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
    first = client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,))
    with run.track(heartbeat=0.1):
        time.sleep(0.6)
        during = client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,))
    assert during > first
    assert run.refresh().status == "COMPLETED"


def test_old_holder_learns_it_lost_the_lease(dbname, client, experiment):
    holder = experiment.register({"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
    other = pgtrack.Client(dbname=dbname)
    thief_exp = pgtrack.Experiment(other, experiment_id=experiment.id)
    with pytest.raises(pgtrack.LeaseLostError) as info:
        with holder.track(heartbeat=0.1):
            holder.add_metrics(step=1, loss=1.0)
            holder.flush()
            # The holder looks dead (no heartbeat for 2 s), so another worker takes the run over.
            other.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (holder.id,))
            thief = thief_exp.register({"k": 1}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).run
            assert thief.attempt == 2
            deadline = time.monotonic() + 10
            while not holder.lease_lost and time.monotonic() < deadline:
                time.sleep(0.05)
            assert holder.lease_lost
            holder.add_metrics(step=2, loss=99.0)  # raises: the training code learns it here
    assert info.value.run_id == holder.id and info.value.attempt == 1 and info.value.current_attempt == 2
    status, attempt = client.one("SELECT status::text, attempt FROM pgtrack.runs WHERE id = %s", (holder.id,))
    assert (status, attempt) == ("RUNNING", 2)  # the old holder's exit did not stop the new attempt
    assert client.execute("SELECT step FROM pgtrack.metrics WHERE run_id = %s", (holder.id,)) == [(1,)]
    other.close()


def test_heartbeat_returns_the_database_time(client, experiment):
    run = experiment.register({"k": 2}, on_duplicate="raise").run
    at = pgtrack.heartbeat(run)
    assert at.tzinfo is not None
    assert at == client.value("SELECT time_updated FROM pgtrack.runs WHERE id = %s", (run.id,))
