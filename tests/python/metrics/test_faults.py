"""What a training job meets, and what pgtrack promises for each (docs/python.md, "What happens
when..."). Real processes, a real server, and a TCP proxy (faults.Proxy) that cuts, refuses, delays
and drops the reply to a commit; the server killed and restarted; a full disk for spill files; and
SIGKILL, SIGTERM and SIGINT of the script.

Every test states the promise it checks: training goes on (the script ends normally, or stops only
for the user's own reason); which rows are kept (all of them, each once, with its value); which status
is stored; and that an ambiguous commit neither duplicates nor loses anything."""
import json
import os
from datetime import timedelta
import resource
import signal
import threading
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

import pgtrack
from conftest import CITUS_DIR
from faults import Proxy, Script, restart_server

PGTRACK = str(Path(sys.executable).with_name("pgtrack"))

# One training script for every case: options as JSON in argv[1]. It prints "run ID", then "step N"
# after each logged step, then "finished SLOWEST" (the longest add_metrics call, in seconds).
TRAIN = """
    import json, sys, time, warnings, pgtrack
    warnings.simplefilter("always")
    opts = json.loads(sys.argv[1])
    client = pgtrack.Client(dbname=opts["dbname"])
    run = pgtrack.Experiment(client, name="faults").get_run()
    print("run", run.id, flush=True)
    slowest = 0.0
    with run.track(heartbeat=opts.get("heartbeat", 0.5), buffer=opts.get("buffer"), spill_after=opts.get("spill_after", 60)):
        run.add_metrics(step=-1, loss=0.0)  # the column exists before the faults start
        for step in range(opts["steps"]):
            began = time.monotonic()
            run.add_metrics(step=step, loss=step / 10)
            slowest = max(slowest, time.monotonic() - began)
            print("step", step, flush=True)
            time.sleep(opts.get("pause", 0.02))
    print("finished", round(slowest, 3), flush=True)
"""


def _train(proxy, dbname, tmp_path, preexec_fn=None, **opts):
    env = dict(os.environ, **proxy.env, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    script = Script(TRAIN, json.dumps(dict(opts, dbname=dbname)), env=env, preexec_fn=preexec_fn)
    run_id = int(script.wait_for("run ").split()[1])
    return script, run_id


def _stored(client, run_id):
    """{step: loss} of the run's stored rows (step -1, the warm-up row, left out)."""
    client.close()
    return dict(client.execute("SELECT step, loss FROM pgtrack.metrics WHERE run_id = %s AND step >= 0", (run_id,)))


def _status(client, run_id):
    return client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (run_id,))


def _every_row(steps):
    return {step: step / 10 for step in range(steps)}


@pytest.fixture
def proxy():
    with Proxy() as p:
        yield p


# -- the network -----------------------------------------------------------------------------------

@pytest.mark.parametrize("buffer", [True, False], ids=["buffered", "unbuffered"])
def test_cut_connections_cost_nothing(proxy, client, dbname, tmp_path, buffer):
    """Promise: connections reset under a running script (a flaky link, a proxy restart) cost no row
    and no status; training goes on and ends normally."""
    script, run_id = _train(proxy, dbname, tmp_path, steps=150, buffer=buffer)
    script.wait_for("step 20")
    for _ in range(6):
        proxy.cut()
        time.sleep(0.3)
    assert script.finish() == 0, script.stderr
    assert script.wait_for("finished")
    assert _stored(client, run_id) == _every_row(150)
    assert _status(client, run_id) == "COMPLETED"
    assert proxy.connections > 2  # it did reconnect


@pytest.mark.parametrize("buffer", [True, False], ids=["buffered", "unbuffered"])
def test_an_outage_stops_nothing(proxy, client, dbname, tmp_path, buffer):
    """Promise: while the server cannot be reached, training goes on at its own pace (steps keep
    coming), the rows wait in memory, and every one is stored once it is back; one warning."""
    script, run_id = _train(proxy, dbname, tmp_path, steps=250, buffer=buffer)
    script.wait_for("step 20")
    proxy.down()
    before = script.count("step ")
    time.sleep(2.5)
    during = script.count("step ") - before
    proxy.up()
    assert script.finish() == 0, script.stderr
    assert during >= 40  # ~120 at 0.02 s a step: the loop never waited for the server
    assert _stored(client, run_id) == _every_row(250)
    assert _status(client, run_id) == "COMPLETED"
    assert script.stderr.count("cannot reach the server") == 1
    if not buffer:
        assert "buffered from now on" in script.stderr


def test_unbuffered_logging_outside_track_raises_one_line(proxy, client, dbname):
    """Promise (outside track() nobody keeps rows for you): an unbuffered add_metrics while the server
    is away raises pgtrack.ServerUnreachable, one line, a psycopg.OperationalError too; that row is
    not stored, and the next call after the outage reconnects and works."""
    mine = pgtrack.Client(dbname=dbname, **proxy.params)
    run = pgtrack.Experiment(mine, name="outside").get_run()
    run.add_metrics(step=0, loss=1.0)
    proxy.down()
    with pytest.raises(pgtrack.ServerUnreachable) as caught:
        run.add_metrics(step=1, loss=2.0)
    assert isinstance(caught.value, psycopg.OperationalError) and "\n" not in str(caught.value).split("HINT")[0].strip()
    proxy.up()
    run.add_metrics(step=2, loss=3.0)
    assert _stored(client, run.id) == {0: 1.0, 2: 3.0}
    mine.close()


def test_a_slow_server_never_slows_the_training_loop(proxy, client, dbname, tmp_path):
    """Promise: buffered rows are written by a background thread; a server that takes seconds to answer
    delays the rows, not the loop: no add_metrics call waits for it (a call that did would take >= 2 s
    here: each direction of the link holds every packet 1 s)."""
    script, run_id = _train(proxy, dbname, tmp_path, steps=200, pause=0.01)
    script.wait_for("step 10")
    proxy.delay(1.0)
    script.wait_for("step 150")
    proxy.delay(0)
    assert script.finish() == 0, script.stderr
    slowest = float(script.wait_for("finished").split()[1])
    assert slowest < 1.0, slowest
    assert _stored(client, run_id) == _every_row(200)


# -- ambiguous commits: the server commits, the reply is lost ----------------------------------------

_COPY_DONE = b"c\x00\x00\x00\x04"  # the client's CopyDone message: the COPY of a flush commits on it


def test_an_ambiguous_flush_neither_loses_nor_duplicates(proxy, client, dbname, tmp_path):
    """Promise: a flush whose commit happened but whose reply was lost is sent again, and the rows it
    stored are merged, not doubled: every row once, with its value."""
    proxy.drop_reply_to(_COPY_DONE, b"run_add_metrics_batch")
    script, run_id = _train(proxy, dbname, tmp_path, steps=120)
    assert script.finish() == 0, script.stderr
    assert proxy.dropped == 1
    assert _stored(client, run_id) == _every_row(120)
    assert client.value("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (run_id,)) == 121


def test_an_ambiguous_unbuffered_step(proxy, client, dbname):
    """Promise: an unbuffered step whose reply was lost is written again on a new connection (an
    upsert that merges): the call returns normally and the row is stored once."""
    mine = pgtrack.Client(dbname=dbname, **proxy.params)
    run = pgtrack.Experiment(mine, name="unbuffered").get_run()
    run.add_metrics(step=0, loss=1.0)
    # The step, as text or binary (the typed statement), or the function a distributed database uses.
    proxy.drop_reply_to(b"424242", (424242).to_bytes(8, "big"), (424242).to_bytes(4, "big"), b"run_add_metrics(")
    run.add_metrics(step=424242, loss=2.0)
    assert proxy.dropped == 1
    assert _stored(client, run.id) == {0: 1.0, 424242: 2.0}
    mine.close()


def test_an_ambiguous_stop_records_the_status(proxy, client, dbname, tmp_path):
    """Promise: the final status is sent again when its reply is lost (a second stop of the same
    attempt changes nothing but time_finished): COMPLETED, and the script ends normally."""
    proxy.drop_reply_to(b"run_stop")
    script, run_id = _train(proxy, dbname, tmp_path, steps=30)
    assert script.finish() == 0, script.stderr
    assert proxy.dropped == 1
    assert _status(client, run_id) == "COMPLETED"
    assert _stored(client, run_id) == _every_row(30)


@pytest.mark.parametrize("policy", ["raise", "return_existing", "skip", "overwrite", "claim_if_stale"])
def test_an_ambiguous_register_takes_one_run(proxy, client, dbname, policy):
    """Promise: register() whose reply was lost is sent again with the same request id, and reports
    the run it made the first time (new, and claimed for claim_if_stale): one run for the key, never
    a duplicate and never a run reported as "existing" that nobody trains."""
    mine = pgtrack.Client(dbname=dbname, **proxy.params)
    experiment = pgtrack.Experiment(mine, name=f"register-{policy}")
    experiment.declare_identifying("lr", "float")
    proxy.drop_reply_to(b"register_once")
    result = experiment.register({"lr": 0.1}, on_duplicate=policy, stale_after=timedelta(minutes=5)
                                 if policy == "claim_if_stale" else None)
    assert proxy.dropped == 1
    assert result.was_inserted and not result.was_skipped
    assert client.execute("SELECT id, attempt FROM pgtrack.runs WHERE experiment_id = %s", (experiment.id,)) == \
        [(result.run.id, 1 if policy == "claim_if_stale" else 0)]
    mine.close()


def test_an_ambiguous_claim_claims_once(proxy, client, dbname):
    """Promise: claim_next() whose reply was lost returns, when sent again, the run it claimed (same
    attempt): no run is left RUNNING without a worker, and no second run is taken."""
    mine = pgtrack.Client(dbname=dbname, **proxy.params)
    experiment = pgtrack.Experiment(mine, name="claims")
    experiment.declare_identifying("seed", "int")
    experiment.enqueue([{"seed": s} for s in range(3)])
    proxy.drop_reply_to(b"claim_next_once")
    run = experiment.claim_next(timedelta(minutes=5), worker="w1")
    assert proxy.dropped == 1
    assert run.attempt == 1
    assert client.execute("SELECT id, status::text, attempt FROM pgtrack.runs WHERE experiment_id = %s AND status <> 'PENDING'",
                          (experiment.id,)) == [(run.id, "RUNNING", 1)]
    second = experiment.claim_next(timedelta(minutes=5), worker="w1")
    assert second.id != run.id and second.attempt == 1  # a new call is a new claim
    mine.close()


def test_an_ambiguous_new_run_makes_one_run(proxy, client, dbname):
    """Promise: creating a run whose reply was lost makes one run, not two."""
    mine = pgtrack.Client(dbname=dbname, **proxy.params)
    experiment = pgtrack.Experiment(mine, name="one-run")
    proxy.drop_reply_to(b"create_run_once")
    run = experiment.get_run()
    assert proxy.dropped == 1
    assert client.execute("SELECT id FROM pgtrack.runs WHERE experiment_id = %s", (experiment.id,)) == [(run.id,)]
    mine.close()


# -- the server --------------------------------------------------------------------------------------

@pytest.mark.skipif(bool(CITUS_DIR), reason="restarts the single test server")
def test_the_server_killed_and_restarted(client, dbname, tmp_path):
    """Promise: a server that crashes (immediate stop: no shutdown, crash recovery on start) and comes
    back costs no row and no status; training goes on."""
    env = dict(os.environ, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    script = Script(TRAIN, json.dumps({"dbname": dbname, "steps": 200}), env=env)
    run_id = int(script.wait_for("run ").split()[1])
    script.wait_for("step 20")
    restart_server("immediate", 1.5)
    assert script.finish() == 0, script.stderr
    assert _stored(client, run_id) == _every_row(200)
    assert _status(client, run_id) == "COMPLETED"


# -- the local disk ----------------------------------------------------------------------------------

def _full_disk():
    """In the child: no file may grow past 16 bytes (writes fail with EFBIG, as on a full disk)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))


def test_a_full_disk_during_an_outage_keeps_rows_in_memory(proxy, client, dbname, tmp_path):
    """Promise: when the server is away and no spill file can be written (a full disk), the rows stay
    in memory, stderr says so once, and they are all stored when the server is back."""
    script, run_id = _train(proxy, dbname, tmp_path, _full_disk, steps=250, spill_after=0.3)
    script.wait_for("step 20")
    proxy.down()
    time.sleep(2.5)
    proxy.up()
    assert script.finish() == 0, script.stderr
    assert script.stderr.count("cannot save metric rows to a spill file") == 1
    assert _stored(client, run_id) == _every_row(250)
    assert _status(client, run_id) == "COMPLETED"


def test_a_full_disk_to_the_end_says_what_was_lost(proxy, client, dbname, tmp_path):
    """Promise: a script that ends while the server is away and the disk is full still ends normally,
    and stderr says which rows and which status could not be kept, and why."""
    script, run_id = _train(proxy, dbname, tmp_path, _full_disk, steps=60)
    script.wait_for("step 20")
    proxy.down()
    assert script.finish() == 0, script.stderr
    assert script.wait_for("finished")
    assert "metric rows could not be kept" in script.stderr and "File too large" in script.stderr
    assert f"run {run_id}: could not record status COMPLETED" in script.stderr
    proxy.up()
    assert _status(client, run_id) == "RUNNING"  # what was kept before the outage
    assert set(_stored(client, run_id)) <= set(range(60))


# -- signals -----------------------------------------------------------------------------------------

def test_sigkill_loses_about_a_second_and_shows_lost_within_three_heartbeats(proxy, client, dbname, tmp_path):
    """Promise: a SIGKILLed script loses at most the rows of about the last second (the background
    thread writes rows once they are a second old) and its run shows LOST after three missed
    heartbeats (here 0.5 s each), not after the experiment's 10 minutes."""
    script, run_id = _train(proxy, dbname, tmp_path, steps=100000, pause=0.01)
    script.wait_for("step 400")
    script.signal(signal.SIGKILL)
    script.finish()
    last = max(int(line.split()[1]) for line in script.out if line.startswith("step "))
    stored = _stored(client, run_id)
    assert stored == _every_row(max(stored) + 1)  # a prefix: nothing in the middle is missing
    assert last - max(stored) <= 250, (last, max(stored))  # ~100 steps a second: about 1 s, 2.5 s at most
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and client.value(
            "SELECT shown_status FROM pgtrack.runs_status() WHERE run_id = %s", (run_id,)) != "LOST":
        time.sleep(0.2)
    assert client.value("SELECT shown_status FROM pgtrack.runs_status() WHERE run_id = %s", (run_id,)) == "LOST"


@pytest.mark.parametrize("signum, status, code", [(signal.SIGTERM, "CANCELLED", 143), (signal.SIGINT, "CANCELLED", -signal.SIGINT)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_an_outage_is_recorded_by_recover(proxy, client, dbname, tmp_path, signum, status, code):
    """Promise: SIGTERM or Ctrl-C while the server is away ends the script as it would (143, or the
    KeyboardInterrupt), its rows and final status go to a spill file, and `pgtrack recover` stores
    both once the server is back: every row logged, CANCELLED."""
    script, run_id = _train(proxy, dbname, tmp_path, steps=100000, pause=0.01)
    script.wait_for("step 50")
    proxy.down()
    time.sleep(0.5)
    script.signal(signum)
    assert script.finish() == code, script.stderr
    last = max(int(line.split()[1]) for line in script.out if line.startswith("step "))
    proxy.up()
    time.sleep(1)
    before_recover = client.value("SELECT clock_timestamp()")
    env = dict(os.environ, PGTRACK_SPILL_DIR=str(tmp_path / "spill"), PGDATABASE=dbname)
    recovered = subprocess.run([PGTRACK, "recover"], env=env, capture_output=True, text=True, timeout=60)
    assert recovered.returncode == 0, recovered.stderr
    assert _status(client, run_id) == status
    # every row logged: the last one printed, and the next if the signal came between its add_metrics and its print
    assert _stored(client, run_id) in (_every_row(last + 1), _every_row(last + 2))
    # the end time is when the script ended (saved in the spill file), not when recover loaded it
    assert client.value("SELECT time_finished FROM pgtrack.runs WHERE id = %s", (run_id,)) < before_recover


# -- the registry: sweeps and run_lifecycle under cut connections ----------------------------------

WORKERS = """
    import datetime as dt, json, sys, time, pgtrack
    opts = json.loads(sys.argv[1])

    def train(config, run):
        with open(opts["calls"], "a") as calls:
            calls.write(json.dumps(config) + "\\n")
        for step in range(15):
            run.add_metrics(step=step, loss=config["k"] + step / 10)
            time.sleep(0.02)

    client = pgtrack.Client(dbname=opts["dbname"])
    experiment = pgtrack.Experiment(client, name="registry-under-cuts")
    configs = [{"k": k} for k in range(8)]
    if opts["driver"] == "sweep":
        pgtrack.sweep(experiment, configs, train, workers=2, stale_after=dt.timedelta(seconds=60))
    else:  # wallow's loop: one run_lifecycle per configuration
        experiment.declare_identifying("k", "int")
        for config in configs:
            with pgtrack.run_lifecycle(experiment, config, stale_after=dt.timedelta(seconds=60)) as handle:
                train(config, handle.run)
    print("done", experiment.id, flush=True)
"""


@pytest.mark.parametrize("driver", ["sweep", "run_lifecycle"])
def test_the_registry_under_cut_connections(proxy, client, dbname, tmp_path, driver):
    """Promise: `pgtrack.sweep` (two worker processes) and a run_lifecycle loop, with their connections
    reset every 0.3 s, train every configuration exactly once (no claim lost to a cut, none made twice:
    attempt 1 each), record COMPLETED for each and store every row."""
    calls = tmp_path / "calls"
    env = dict(os.environ, **proxy.env, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    script = Script(WORKERS, json.dumps({"dbname": dbname, "calls": str(calls), "driver": driver}), env=env)
    cuts = 0
    while script.proc.poll() is None:
        time.sleep(0.3)
        cuts += proxy.cut()
    assert script.finish() == 0, script.stderr
    experiment_id = int(script.wait_for("done").split()[1])
    assert cuts >= 5
    trained = sorted(json.loads(line)["k"] for line in calls.read_text().splitlines())
    assert trained == list(range(8))  # each configuration once
    runs = client.execute("SELECT (identity->>'k')::int, status::text, attempt FROM pgtrack.runs WHERE experiment_id = %s "
                          "ORDER BY 1", (experiment_id,))
    assert runs == [(k, "COMPLETED", 1) for k in range(8)]
    stored = client.execute("SELECT (r.identity->>'k')::int, m.step, m.loss FROM pgtrack.metrics m JOIN pgtrack.runs r "
                            "ON r.id = m.run_id AND r.experiment_id = m.experiment_id WHERE m.experiment_id = %s",
                            (experiment_id,))
    assert sorted(stored) == [(k, step, k + step / 10) for k in range(8) for step in range(15)]


@pytest.mark.parametrize("call", ["claim_next", "register", "new run"])
def test_a_retry_while_the_first_call_still_runs_takes_one_run(proxy, client, dbname, call):
    """Promise: when the connection breaks while the server is still running the call (here it waits
    for a table lock an admin holds), the retry waits for the first call instead of racing it, and
    one run is taken: the one the caller gets."""
    mine = pgtrack.Client(dbname=dbname, **proxy.params)
    experiment = pgtrack.Experiment(mine, name=f"overlap-{call}")
    experiment.declare_identifying("seed", "int")
    experiment.enqueue([{"seed": s} for s in range(3)])
    outcome = {}

    def attempt():
        try:
            if call == "claim_next":
                outcome["run"] = experiment.claim_next(timedelta(minutes=5), worker="w1")
            elif call == "register":
                outcome["run"] = experiment.register({"seed": 7}, on_duplicate="claim_if_stale",
                                                     stale_after=timedelta(minutes=5)).run
            else:
                outcome["run"] = experiment.get_run()
        except Exception as exc:  # reported below
            outcome["error"] = exc

    with psycopg.connect(dbname=dbname) as admin:  # a transaction holding a lock every write waits for
        admin.execute("LOCK TABLE pgtrack.runs IN SHARE MODE")
        worker = threading.Thread(target=attempt)
        worker.start()
        time.sleep(1.0)
        assert proxy.cut() >= 1  # the call is waiting in the server: its connection breaks
        time.sleep(1.0)  # the retry is sent meanwhile, and waits too
    worker.join(timeout=60)
    assert "error" not in outcome, outcome
    taken = client.execute("SELECT id FROM pgtrack.runs WHERE experiment_id = %s AND (status = 'RUNNING' OR identity IS NULL "
                           "OR identity = '{\"seed\": 7}')", (experiment.id,))
    assert taken == [(outcome["run"].id,)]
    mine.close()


def test_a_long_outage_spills_once_a_spill_after_and_warns_once(proxy, client, dbname, tmp_path):
    """Promise: an outage longer than spill_after saves rows to a spill file once per spill_after (not
    at every retry), says so once, and every row is stored once the server is back."""
    script, run_id = _train(proxy, dbname, tmp_path, steps=400, pause=0.02, spill_after=2)
    script.wait_for("step 20")
    proxy.down()
    time.sleep(6.5)
    proxy.up()
    assert script.finish() == 0, script.stderr
    assert script.stderr.count("metric rows saved to") == 1
    assert script.stderr.count("cannot reach the server") == 1
    assert "loaded" in script.stderr
    assert _stored(client, run_id) == _every_row(400)
    assert not list((tmp_path / "spill").glob("*.jsonl"))  # loaded by the script itself once the server was back


@pytest.mark.parametrize("buffer", [True, False], ids=["buffered", "unbuffered"])
def test_warnings_turned_into_errors_never_stop_training(proxy, client, dbname, tmp_path, buffer):
    """Promise: under `python -W error` (or warnings.filterwarnings("error"), pytest -W error) pgtrack's
    warnings go to stderr instead of raising: training goes on through an outage, every row is
    stored and the run is COMPLETED."""
    env = dict(os.environ, **proxy.env, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    source = TRAIN.replace('warnings.simplefilter("always")', 'warnings.simplefilter("error")')
    script = Script(source, json.dumps({"dbname": dbname, "steps": 150, "buffer": buffer}), env=env)
    run_id = int(script.wait_for("run ").split()[1])
    script.wait_for("step 20")
    proxy.down()
    time.sleep(2)
    proxy.up()
    assert script.finish() == 0, script.stderr
    assert "printed because warnings are errors here" in script.stderr
    assert _stored(client, run_id) == _every_row(150)
    assert _status(client, run_id) == "COMPLETED"
