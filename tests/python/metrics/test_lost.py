"""A dead run is found in about a minute: track() records its heartbeat interval on the run, and a
run that heartbeats is LOST after three silent intervals; a run without heartbeats keeps its
experiment's lost_after (it may rightly be silent between epochs), which the CLI and Python can change,
and `pgtrack runs --lost-after` judges one listing with another threshold."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

import pgtrack


def _cli(dbname, *args):
    done = subprocess.run([sys.executable, "-m", "pgtrack", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PGDATABASE": dbname})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _shown(conn, run_id):
    return conn.execute("SELECT shown_status FROM pgtrack.runs_status() WHERE run_id = %s", (run_id,)).fetchone()[0]


KILLED = """
import sys, time, pgtrack
client = pgtrack.Client(dbname=sys.argv[1])
run = pgtrack.Experiment(client, name="dies").get_run()
with run.track(heartbeat=0.5):
    print(run.id, flush=True)
    print("training", flush=True)
    time.sleep(60)
"""


def test_a_sigkilled_tracked_run_is_lost_after_three_missed_heartbeats(conn, dbname):
    proc = subprocess.Popen([sys.executable, "-c", KILLED, dbname], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    run_id = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "training"
    time.sleep(2.0)  # alive: it heartbeats every 0.5 s
    assert _shown(conn, run_id) == "RUNNING"
    assert conn.execute("SELECT heartbeat_every FROM pgtrack.runs WHERE id = %s", (run_id,)).fetchone()[0] == dt.timedelta(seconds=0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _shown(conn, run_id) != "LOST" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _shown(conn, run_id) == "LOST"  # after ~1.5 s of silence, not the experiment's 10 minutes
    assert json.loads(_cli(dbname, "runs", "dies", "--json"))[0]["status"] == "LOST"


def test_a_run_without_heartbeats_keeps_lost_after_which_can_be_changed(conn, client, dbname):
    exp = pgtrack.Experiment(client, name="quiet")
    run = exp.get_run()
    conn.execute("SELECT pgtrack.run_start(%s)", (run.id,))  # RUNNING, no heartbeat promised (a SQL client)
    time.sleep(1.2)
    assert _shown(conn, run.id) == "RUNNING"  # silent between epochs is fine for 10 minutes
    listing = json.loads(_cli(dbname, "runs", "quiet", "--lost-after", "1s", "--json"))
    assert [r["status"] for r in listing] == ["LOST"]  # judged with another threshold for this listing
    assert json.loads(_cli(dbname, "runs", "quiet", "--status", "lost", "--lost-after", "1s", "--json"))[0]["id"] == run.id
    assert _shown(conn, run.id) == "RUNNING"  # the listing changed nothing
    assert "after 00:00:01" in _cli(dbname, "experiments", "lost-after", "quiet", "1s")
    assert _shown(conn, run.id) == "LOST"
    exp.set_lost_after(dt.timedelta(minutes=5))
    assert _shown(conn, run.id) == "RUNNING"
    exp.set_lost_after("1 second")
    assert _shown(conn, run.id) == "LOST"
    with pytest.raises(pgtrack.SchemaValidationError):
        exp.set_lost_after(-5)


def test_run_set_heartbeat_is_checked_and_fenced(conn):
    exp = conn.execute("SELECT pgtrack.experiment('hb')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run, attempt = conn.execute("SELECT run_id, attempt FROM pgtrack.register(%s, '{\"k\": 1}', NULL, 'claim_if_stale', "
                                "'1 hour')", (exp,)).fetchone()
    conn.execute("SELECT pgtrack.run_set_heartbeat(%s, '15 seconds', attempt => %s)", (run, attempt))
    for every in ("0 seconds", "-1 second", "2 days", "1 day -1 second"):
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.run_set_heartbeat(%s, %s::interval)", (run, every))
        assert info.value.sqlstate == "PT003", every
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.run_set_heartbeat(%s, '15 seconds', attempt => %s)", (run, attempt + 1))
    assert info.value.sqlstate == "PT004"
    assert conn.execute("SELECT pgtrack.lost_time('10 minutes', '15 seconds'), pgtrack.lost_time('10 minutes', NULL), "
                        "pgtrack.lost_time('20 seconds', '15 seconds')").fetchone() == (
        dt.timedelta(seconds=45), dt.timedelta(minutes=10), dt.timedelta(seconds=20))
