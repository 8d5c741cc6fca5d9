"""A Client opened before a fork (multiprocessing's default on Linux; wallow's README opens a Store in
the parent, then forks its workers) works in the children and stays the parent's: each child opens its
own connection, and the parent's session survives the children's work and their exit. Before, the
first child waited forever for an answer that the parent's process read."""
import datetime as dt
import multiprocessing
import os

import pytest

import pgtrack


def _child_logs(client, experiment_id, k, queue):
    run = pgtrack.Experiment(client, experiment_id=experiment_id).register({"k": k}, on_duplicate="claim_if_stale",
                                                                               stale_after=dt.timedelta(minutes=5)).run
    run.add_metrics(step=1, loss=float(k))
    run.stop()
    queue.put((k, os.getpid(), client.value("SELECT pg_backend_pid()")))


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="fork only")
def test_forked_children_use_connections_of_their_own(client):
    experiment = pgtrack.Experiment(client, name="forked")
    experiment.declare_identifying("k", "int")
    parent_backend = client.value("SELECT pg_backend_pid()")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_child_logs, args=(client, experiment.id, k, queue)) for k in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0, 0]  # not a hang (None), not a crash
    results = sorted(queue.get(timeout=5) for _ in children)
    assert [k for k, _, _ in results] == [0, 1, 2]
    assert parent_backend not in {backend for _, _, backend in results}
    assert client.value("SELECT pg_backend_pid()") == parent_backend  # the parent's session lives on
    assert client.value("SELECT count(*) FROM pgtrack.runs WHERE status = 'COMPLETED' AND experiment_id = %s",
                        (experiment.id,)) == 3
    assert client.value("SELECT sum(loss) FROM pgtrack.metrics WHERE experiment_id = %s", (experiment.id,)) == 3.0
