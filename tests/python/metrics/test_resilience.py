"""Tracking never kills training: a training subprocess logs while its server restarts (the throwaway
cluster, and the embedded server) and loses no row; rows the server cannot take in time go to a
spill file that the next flush or `pgtrack recover` loads; `pgtrack embedded stop` refuses while a
client is connected. (A SIGKILLed logger loses at most the unflushed window: test_buffer.py.)"""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import without_settings
from faults import pg_ctl, restart_server, start_server

PGTRACK = str(Path(sys.executable).with_name("pgtrack"))

TRAIN = """
    import sys, time, warnings, pgtrack
    warnings.simplefilter("always")
    client = pgtrack.Client(**({"dbname": sys.argv[1]} if sys.argv[1] != "-" else {}))
    run = pgtrack.Experiment(client, name="resilient").get_run()
    print(run.id, flush=True)
    steps, pause, spill_after = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    with run.track(max_seconds=0.2, spill_after=spill_after, heartbeat=0.5):
        for step in range(steps):
            run.add_metrics(step=step, loss=step / 10)
            if step == 20:
                print("logging", flush=True)
            time.sleep(pause)
    print("finished", flush=True)
"""


def _start_training(dbname, steps, pause, spill_after, env):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(TRAIN), dbname, str(steps), str(pause), str(spill_after)],
                            env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "logging"
    return proc, run_id


def _rows(client, run_id):
    return client.value("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (run_id,))


def test_logging_survives_a_server_restart(client, dbname, tmp_path):
    env = dict(os.environ, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    proc, run_id = _start_training(dbname, 200, 0.02, 60, env)
    restart_server("fast", 1.5)  # the script keeps training while the server is down
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "finished" in out
    assert err.count("cannot reach the server") == 1  # warned once
    client.close()
    assert _rows(client, run_id) == 200  # no row lost
    assert client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (run_id,)) == "COMPLETED"


def test_rows_spill_to_a_file_and_come_back(client, dbname, tmp_path):
    env = dict(os.environ, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    proc, run_id = _start_training(dbname, 250, 0.02, 0.5, env)
    restart_server("fast", 2.5)  # longer than spill_after: rows go to a file
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "saved to" in err and "loaded" in err  # spilled, then loaded by the next successful flush
    client.close()
    assert _rows(client, run_id) == 250
    assert not list((tmp_path / "spill").glob("*.jsonl"))


def test_training_that_ends_while_the_server_is_down_is_recovered(client, dbname, tmp_path):
    env = dict(os.environ, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    proc, run_id = _start_training(dbname, 60, 0.05, 60, env)
    pg_ctl("-m", "fast", "stop")
    out, err = proc.communicate(timeout=120)  # the loop ends, and so does track(), with no server
    start_server()
    assert proc.returncode == 0 and "finished" in out, err
    assert list((tmp_path / "spill").glob("*.jsonl"))
    client.close()
    recovered = subprocess.run([PGTRACK, "-d", dbname, "recover", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert recovered.returncode == 0, recovered.stderr
    assert _rows(client, run_id) == 60
    assert client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (run_id,)) == "COMPLETED"
    again = subprocess.run([PGTRACK, "-d", dbname, "recover", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert '"files": 0' in again.stdout  # nothing left to load


@pytest.fixture
def embedded_env(tmp_path):
    env = dict(without_settings(os.environ, tmp_path / "home", tmp_path / "embedded"),
               PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    (tmp_path / "home").mkdir()
    yield env
    subprocess.run([PGTRACK, "embedded", "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_embedded_restart_while_logging(embedded_env):
    env = embedded_env
    assert subprocess.run([PGTRACK, "status"], env=env, capture_output=True, timeout=300).returncode == 0
    proc, run_id = _start_training("-", 200, 0.02, 60, env)
    refused = subprocess.run([PGTRACK, "embedded", "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 5 and "--force" in refused.stderr  # a client is connected
    forced = subprocess.run([PGTRACK, "embedded", "stop", "--force"], env=env, capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0, forced.stderr
    time.sleep(1)
    assert subprocess.run([PGTRACK, "status"], env=env, capture_output=True, timeout=120).returncode == 0  # starts it
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "finished" in out, err
    count = subprocess.run([PGTRACK, "--json", "inspect", str(run_id)], env=env, capture_output=True, text=True, timeout=60)
    if '"status": "COMPLETED"' not in count.stdout:
        # A loaded machine restarts the server slower than the script's last steps and its 2 s for the
        # final status: then the status (and any row) waits in the spill file, and recover stores it.
        assert "pgtrack recover" in err, count.stdout + err  # the script said where its status waits
        recovered = subprocess.run([PGTRACK, "recover"], env=env, capture_output=True, text=True, timeout=60)
        assert recovered.returncode == 0, recovered.stderr
        count = subprocess.run([PGTRACK, "--json", "inspect", str(run_id)], env=env, capture_output=True, text=True, timeout=60)
    assert '"status": "COMPLETED"' in count.stdout, count.stdout + count.stderr
    psql = subprocess.run([PGTRACK, "psql", "-X", "-At", "-c", f"SELECT count(*) FROM pgtrack.metrics WHERE run_id = {run_id}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert psql.stdout.strip() == "200", psql.stdout + psql.stderr


# The start of the child scripts below: a run of its own, its id printed first.
CHILD_HEAD = """
    import sys, time, warnings, pgtrack
    warnings.simplefilter("always")
    client = pgtrack.Client(dbname=sys.argv[1])
    run = pgtrack.Experiment(client, name="resilient").get_run()
    print(run.id, flush=True)
"""

UNWRITABLE = CHILD_HEAD + """
    with run.track(max_seconds=0.1, spill_after=0.3, heartbeat=None):
        for step in range(40):
            run.add_metrics(step=step, loss=step / 10)
            if step == 10:
                print("logging", flush=True)
            time.sleep(0.05)
    print("finished", flush=True)
    try:
        run.refresh().status
    except pgtrack.ServerUnreachable as exc:
        print("refresh:", exc, flush=True)
"""


@pytest.mark.parametrize("spill", ["a-file", "not-writable"])
def test_an_outage_with_no_spill_file_ends_the_script_normally_and_says_what_was_lost(client, dbname, tmp_path, spill):
    """The review's case: the server stops and the spill directory cannot be written (a file where the
    directory should be, or a directory nobody may write): the loop goes on, rows wait in memory, the
    script ends normally, stderr says exactly what could not be kept and why, and refresh() afterwards
    is one line."""
    where = tmp_path / "spill"
    if spill == "a-file":
        where.write_text("not a directory")
    elif os.geteuid() == 0:  # root writes anywhere: a directory of another user's is refused instead
        where.mkdir(mode=0o700)
        os.chown(where, 65534, -1)
    else:
        where.mkdir(mode=0o500)
    env = dict(os.environ, PGTRACK_SPILL_DIR=str(where), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(UNWRITABLE), dbname], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "logging"
    pg_ctl("-m", "fast", "stop")
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        start_server()
    assert proc.returncode == 0 and "finished" in out, err
    assert "Traceback" not in err, err
    assert "cannot save metric rows to a spill file" in err  # said while training went on
    lost = [line for line in err.splitlines() if "could not be kept" in line]
    assert len(lost) == 1 and "the server is unreachable" in lost[0] and "no spill file could be written" in lost[0]
    assert "could not record status" in err
    refreshed = [line for line in out.splitlines() if line.startswith("refresh:")]
    assert len(refreshed) == 1 and "cannot reach the database server" in refreshed[0]
    client.close()
    stored = _rows(client, run_id)
    kept = int(lost[0].split(" metric rows")[0].split()[-1])
    assert stored + kept == 40  # every row is stored, or named as lost


NEW_NAMES = CHILD_HEAD + """
    with run.track(max_seconds=0.1, spill_after=60, heartbeat=None):
        for step in range(60):
            run.add_metrics(step=step, loss=step / 10)
            if step >= 20:  # first logged while the server is away: a new column, then the cache reloads
                run.add_metrics(step=step, **{"val/acc": step / 100})
            if step == 10:
                print("logging", flush=True)
            if step == 19:
                print("new names", flush=True)
                sys.stdin.readline()  # the test stops the server here
            time.sleep(0.1 if step >= 20 else 0.02)  # 4 s of logging: the server is back after 1.5
    print("finished", flush=True)
"""


def test_a_metric_first_logged_during_an_outage_waits_for_its_column(client, dbname):
    """The review's case: a metric logged for the first time (and the name cache reloading) while the
    server is away: the rows wait in the buffer, the column is made when the server returns, the first
    warning says so, and training never sees an OperationalError."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(NEW_NAMES), dbname], env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "logging" and proc.stdout.readline().strip() == "new names"
    pg_ctl("-m", "fast", "stop")
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(1.5)  # the loop logs the new metric with no server
    start_server()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "finished" in out, err
    assert "Traceback" not in err and "get their columns when it is back" in err
    client.close()
    assert _rows(client, run_id) == 60, err
    assert client.value('SELECT count("val/acc") FROM pgtrack.metrics WHERE run_id = %s', (run_id,)) == 40
