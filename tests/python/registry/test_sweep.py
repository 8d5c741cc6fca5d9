"""pgtrack.sweep and `pgtrack sweep`: every configuration once across worker processes, failures
recorded and retried by a rerun, completed work never repeated, a SIGKILLed worker's configuration
recovered within the same call."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pgtrack

CALLS = "SELECT count(*) FROM pgtrack.metrics m JOIN pgtrack.runs r ON r.id = m.run_id WHERE r.experiment_id = %s AND m.step = 0"


def test_sweep_runs_each_configuration_once_and_resumes(client, tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("1")

    def train(config, run):
        run.add_metrics(step=0, loss=config["lr"] * 10 + config["seed"])
        if config["lr"] == 0.01 and config["seed"] == 2 and flag.exists():
            raise RuntimeError("diverged")
        for step in range(1, 5):
            run.add_metrics(step=step, loss=config["lr"] / step)

    exp = pgtrack.Experiment(client, name="sw")
    summary = pgtrack.sweep(exp, {"lr": [0.1, 0.01], "seed": [0, 1, 2]}, train, workers=3,
                            stale_after=dt.timedelta(seconds=5))
    assert len(summary) == 6
    assert sorted(row["status"] for row in summary) == ["COMPLETED"] * 5 + ["FAILED"]
    failed = next(row for row in summary if row["status"] == "FAILED")
    assert (failed["lr"], failed["seed"]) == (0.01, 2) and "diverged" in failed["error"]
    assert client.value(CALLS, (exp.id,)) == 6  # each configuration started once
    assert {f.name: f.type for f in exp.identifying_fields()} == {"lr": "float", "seed": "int"}
    flag.unlink()
    again = pgtrack.sweep(exp, {"lr": [0.1, 0.01], "seed": [0, 1, 2]}, train, workers=2, stale_after=dt.timedelta(seconds=5))
    assert [row["status"] for row in again] == ["COMPLETED"] * 6
    assert client.value("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = %s", (exp.id,)) == 6
    assert client.value(CALLS, (exp.id,)) == 6  # completed ones were not run again (step 0 rows are upserts)
    assert client.value("SELECT attempt FROM pgtrack.runs WHERE experiment_id = %s AND identity = '{\"lr\": 0.01, \"seed\": 2}'",
                        (exp.id,)) == 2


def test_a_killed_worker_is_recovered_in_the_same_call(client, tmp_path):
    marker = tmp_path / "killed"

    def train(config, run):
        if config["k"] == 2 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies without a word
        run.add_metrics(step=1, loss=float(config["k"]))

    summary = pgtrack.sweep(pgtrack.Experiment(client, name="kill"), [{"k": k} for k in range(4)], train, workers=2,
                            stale_after=dt.timedelta(seconds=1.5))
    assert sorted((row["k"], row["status"]) for row in summary) == [(k, "COMPLETED") for k in range(4)]
    assert next(row["attempt"] for row in summary if row["k"] == 2) == 2


def test_the_command_line_sweep(dbname, client, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import json, os, sys, pgtrack
        config = json.loads(sys.argv[-1])
        assert json.loads(os.environ["PGTRACK_CONFIG"]) == config
        client = pgtrack.Client()
        run = pgtrack.run_from_env(client)
        run.add_metrics(step=1, loss=config["lr"] * 2)
        if config["lr"] == 0.3:
            sys.exit("refusing lr 0.3")
    """))
    done = subprocess.run([sys.executable, "-m", "pgtrack", "-d", dbname, "sweep", "cli-sweep", "--grid", '{"lr": [0.1, 0.2, 0.3]}',
                           "--workers", "2", "--stale-after", "5", "--json", "--", sys.executable, str(script)],
                          capture_output=True, text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != "PGDATABASE"})
    assert done.returncode == 5, done.stderr  # one configuration failed
    rows = {row["lr"]: row for row in json.loads(done.stdout)}
    assert rows[0.1]["status"] == rows[0.2]["status"] == "COMPLETED" and rows[0.3]["status"] == "FAILED"
    assert "refusing lr 0.3" in rows[0.3]["error"] or "exited 1" in rows[0.3]["error"]
    assert rows[0.2]["final loss"] == 0.4

    # the same sweep named by the experiment's number joins it: finished configurations are not run again
    exp_id = client.value("SELECT id FROM pgtrack.experiments WHERE name = 'cli-sweep'")
    again = subprocess.run([sys.executable, "-m", "pgtrack", "-d", dbname, "sweep", str(exp_id), "--grid", '{"lr": [0.1, 0.2]}',
                            "--json", "--", sys.executable, "-c", "raise SystemExit('must not run')"],
                           capture_output=True, text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != "PGDATABASE"})
    assert again.returncode == 0, again.stderr
    assert {row["lr"]: row["status"] for row in json.loads(again.stdout)} == {0.1: "COMPLETED", 0.2: "COMPLETED"}
    assert client.value("SELECT count(*) FROM pgtrack.experiments WHERE name = %s", (str(exp_id),)) == 0
