"""Registry atomicity under real concurrency (separate processes, one connection each)."""
import multiprocessing as mp
import os
import signal
import time

import psycopg
import pytest

from parallel import run_parallel

REGISTER = "SELECT run_id, attempt, was_inserted, was_updated, was_skipped FROM pgtrack.register(%s, %s, on_duplicate => %s, stale_after => %s)"


def _experiment(conn, name, fields=(("k", "int"),)):
    exp = conn.execute("SELECT pgtrack.experiment(%s)", (name,)).fetchone()[0]
    for field, kind in fields:
        conn.execute("SELECT pgtrack.declare_identifying(%s, %s, %s)", (exp, field, kind))
    return exp


def _register(conn, _index, exp, key, policy, stale_after):
    return conn.execute(REGISTER, (exp, key, policy, stale_after)).fetchone()


def test_claim_if_stale_has_exactly_one_winner_among_eight_processes(dbname, conn):
    exp = _experiment(conn, "claims")
    for trial in range(20):
        key = f'{{"k": {trial}}}'
        run = conn.execute(REGISTER, (exp, key, "claim_if_stale", "1 minute")).fetchone()[0]
        conn.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (run,))
        results = run_parallel(dbname, _register, 8, (exp, key, "claim_if_stale", "1 minute"))
        assert all(status == "ok" for status, _ in results), results
        rows = [value for _, value in results]
        winners = [r for r in rows if r[3]]
        assert len(winners) == 1, (trial, rows)
        assert winners[0][1] == 2  # the lease moved from attempt 1 to 2 exactly once
        assert sum(1 for r in rows if r[4]) == 7
        assert conn.execute("SELECT attempt FROM pgtrack.runs WHERE id = %s", (run,)).fetchone()[0] == 2


def test_register_raise_inserts_once_and_seven_get_pt001(dbname, conn):
    exp = _experiment(conn, "raises")
    for trial in range(5):
        results = run_parallel(dbname, _register, 8, (exp, f'{{"k": {trial}}}', "raise", None))
        inserted = [v for s, v in results if s == "ok"]
        assert len(inserted) == 1 and inserted[0][2] is True
        assert sorted(v for s, v in results if s == "error") == ["PT001"] * 7
    assert conn.execute("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = %s", (exp,)).fetchone()[0] == 5


def _drain(conn, index, exp):
    done = []
    while True:
        run, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '10 minutes', %s)",
                                    (exp, f"w{index}")).fetchone()
        if run is None:
            return done
        conn.execute("SELECT pgtrack.heartbeat(%s, %s)", (run, attempt))
        conn.execute("SELECT pgtrack.run_stop(%s, 'COMPLETED', attempt => %s)", (run, attempt))
        done.append(run)


def test_six_workers_drain_a_queue_of_500_runs_each_completed_once(dbname, conn):
    exp = _experiment(conn, "drain")
    conn.execute("SELECT pgtrack.enqueue(%s, (SELECT jsonb_agg(jsonb_build_object('k', g)) FROM generate_series(1, 500) g))", (exp,))
    results = run_parallel(dbname, _drain, 6, (exp,))
    assert all(status == "ok" for status, _ in results), results
    claimed = [run for _, runs in results for run in runs]
    assert len(claimed) == 500 and len(set(claimed)) == 500
    assert sum(1 for _, runs in results if runs) >= 2  # the work really was shared
    assert conn.execute("SELECT count(*) FILTER (WHERE status = 'COMPLETED' AND attempt = 1), count(DISTINCT worker) "
                        "FROM pgtrack.runs WHERE experiment_id = %s", (exp,)).fetchone()[0] == 500


def _worker_that_will_be_killed(dbname, exp, pipe):
    with psycopg.connect(dbname=dbname, autocommit=True) as conn:
        run, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '2 seconds', 'doomed')", (exp,)).fetchone()
        pipe.send((run, attempt))
        while True:  # "training": heartbeat until killed
            conn.execute("SELECT pgtrack.heartbeat(%s, %s)", (run, attempt))
            time.sleep(0.1)


def test_killed_worker_loses_its_run_to_another_after_stale_after(dbname, conn):
    exp = _experiment(conn, "kill")
    conn.execute("SELECT pgtrack.enqueue(%s, '[{\"k\": 1}]')", (exp,))
    ctx = mp.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=_worker_that_will_be_killed, args=(dbname, exp, child_end))
    proc.start()
    run, attempt = parent_end.recv()
    assert attempt == 1
    time.sleep(0.5)
    # while the holder heartbeats, nobody else gets the run
    assert conn.execute("SELECT run_id FROM pgtrack.claim_next(%s, '2 seconds', 'other')", (exp,)).fetchone()[0] is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    time.sleep(2.5)
    run2, attempt2 = conn.execute("SELECT run_id, attempt FROM pgtrack.claim_next(%s, '2 seconds', 'rescuer')", (exp,)).fetchone()
    assert (run2, attempt2) == (run, 2)
    conn.execute("SELECT pgtrack.heartbeat(%s, 2)", (run,))
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.heartbeat(%s, 1)", (run,))
    assert info.value.sqlstate == "PT004"
    assert conn.execute("SELECT worker FROM pgtrack.runs WHERE id = %s", (run,)).fetchone()[0] == "rescuer"


def _register_or_declare(conn, index, exp):
    if index == 0:
        time.sleep(0.05)
        conn.execute("SELECT pgtrack.declare_identifying(%s, 'extra', 'int', '7')", (exp,))
        return "declared"
    for i in range(60):
        conn.execute(REGISTER, (exp, f'{{"k": {index * 1000 + i}}}', "raise", None))
    return "registered"


def test_declaring_a_field_during_registrations_leaves_every_identity_complete(dbname, conn):
    exp = _experiment(conn, "declare-race")
    conn.execute(REGISTER, (exp, '{"k": -1}', "raise", None))  # so the new field needs a backfill
    results = run_parallel(dbname, _register_or_declare, 4, (exp,))
    assert all(status == "ok" for status, _ in results), results
    total, complete = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE identity @> '{\"extra\": 7}') FROM pgtrack.runs WHERE experiment_id = %s",
        (exp,)).fetchone()
    assert total == 181 and complete == 181
