"""The pgtrack command line, run as a real process: every command, --json, exit codes, one-line
errors, --help everywhere (SQLTrack 0.1.4's CLI crashed and exited 1 even on success)."""
import json
import os
import subprocess
import sys

import pytest

COMMANDS = [[], ["setup"], ["status"], ["experiments"], ["runs"], ["inspect"], ["metrics"], ["metrics", "add"],
            ["metrics", "list"], ["schema"], ["schema", "apply"], ["report"]]


def cli(*args, dbname=None, check=None):
    env = dict(os.environ, **({"PGDATABASE": dbname} if dbname else {}))
    done = subprocess.run([sys.executable, "-m", "pgtrack", *args], capture_output=True, text=True, env=env, timeout=120)
    if check is not None:
        assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
    return done


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help_on_every_command(command):
    done = cli(*command, "--help", check=0)
    assert "usage: pgtrack" in done.stdout


@pytest.fixture
def tracked(client, dbname, tmp_path):
    import pgtrack

    exp = pgtrack.Experiment(client, name="cli-exp", comment="from the CLI test")
    exp.declare_identifying("lr", "float")
    for lr in (0.1, 0.01):
        run = exp.register({"lr": lr}, on_duplicate="raise").run
        with run.track():
            for step in range(5):
                run.add_metrics(step=step, loss=lr + 1 / (step + 1), acc=step / 5)
    failed = exp.get_run()
    try:
        with failed.track():
            raise RuntimeError("boom <b>")
    except RuntimeError:
        pass
    return exp


def test_setup_with_migrations_twice(dbname, tmp_path):
    from conftest import create_database, drop_database

    db = create_database(setup=False)
    try:
        script = tmp_path / "v001.sql"
        script.write_text("SELECT pgtrack.add_metric('train_loss'); SELECT pgtrack.add_metric('val_loss');")
        first = cli("setup", str(script), dbname=db, check=0)
        assert "created extension pgtrack" in first.stdout and "(NEW) v001.sql" in first.stdout
        second = cli("setup", str(script), dbname=db, check=0)
        assert "(OK) v001.sql" in second.stdout and "created" not in second.stdout
        assert cli("setup", str(tmp_path / "missing.sql"), dbname=db).returncode == 2
    finally:
        drop_database(db)


def test_listing_commands(tracked, dbname):
    status = json.loads(cli("--json", "status", dbname=dbname, check=0).stdout)
    assert status["extension"] and status["runs COMPLETED"] == 2 and status["runs FAILED"] == 1
    experiments = json.loads(cli("--json", "experiments", dbname=dbname, check=0).stdout)
    assert experiments == [{**experiments[0], "name": "cli-exp", "runs": 3, "completed": 2, "failed": 1}]
    table = cli("experiments", dbname=dbname, check=0).stdout.splitlines()
    assert table[0].split()[:3] == ["id", "name", "runs"] and set(table[1]) <= {"-", " "} and "cli-exp" in table[2]
    runs = json.loads(cli("--json", "runs", "cli-exp", "--status", "failed", dbname=dbname, check=0).stdout)
    assert [r["status"] for r in runs] == ["FAILED"] and runs[0]["error"].startswith("RuntimeError: boom <b>")
    assert len(json.loads(cli("--json", "runs", str(tracked.id), dbname=dbname, check=0).stdout)) == 3
    run_id = runs[0]["id"]
    inspected = json.loads(cli("--json", "inspect", str(run_id), dbname=dbname, check=0).stdout)
    assert inspected["id"] == run_id and inspected["status"] == "FAILED"
    ok = json.loads(cli("--json", "inspect", str(tracked.find(lr=0.1).id), dbname=dbname, check=0).stdout)
    assert ok["final metrics"] == {"acc": 0.8, "loss": pytest.approx(0.3)} and ok["identity"] == {"lr": 0.1}


def test_metrics_and_schema(dbname, tmp_path):
    assert "added metric lr (real)" in cli("metrics", "add", "lr", "real", dbname=dbname, check=0).stdout
    assert "exists already" in cli("metrics", "add", "lr", "real", dbname=dbname, check=0).stdout
    assert [m["name"] for m in json.loads(cli("--json", "metrics", "list", dbname=dbname, check=0).stdout)] == ["lr"]
    refused = cli("metrics", "add", "lr", "bigint", dbname=dbname)
    assert refused.returncode == 5 and refused.stderr.count("\n") == 1 and "exists with type real" in refused.stderr
    schema = tmp_path / "wallow.toml"
    schema.write_text("[project]\nname = 'from-toml'\n[identifying.k]\ntype = 'int'\n[annotating.host]\ntype = 'string'\n")
    applied = json.loads(cli("--json", "schema", "apply", str(schema), dbname=dbname, check=0).stdout)
    assert applied["experiment"] == "from-toml" and applied["identifying fields"] == ["k"]
    assert cli("schema", "apply", str(tmp_path / "nope.toml"), dbname=dbname).returncode == 2


@pytest.mark.parametrize("args, code, words", [
    (["inspect", "999999"], 2, "no run with id=999999"),
    (["runs", "no-such-experiment"], 2, "no experiment named"),
    (["report", "no-such-experiment", "-o", "x.html"], 2, "no experiment named"),
    (["runs", "--status", "SLEEPING"], 1, "unknown status"),
    (["inspect", "abc"], 1, "must be a run id"),
    (["bogus"], 1, "invalid choice"),
    (["metrics", "add", "Bad Name"], 5, "invalid metric name"),
])
def test_errors_are_one_line_with_meaningful_exit_codes(dbname, args, code, words):
    done = cli(*args, dbname=dbname)
    assert done.returncode == code, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert words in last and "Traceback" not in done.stderr


def test_unreachable_database_and_missing_extension(dbname):
    from conftest import create_database, drop_database

    done = cli("-a", "/nonexistent-socket-dir", "-p", "1", "status")
    assert done.returncode == 3 and "cannot reach the database" in done.stderr and "Traceback" not in done.stderr
    host_port = cli("-a", f"{os.environ['PGHOST']}:{os.environ['PGPORT']}", "-d", dbname, "status")
    assert host_port.returncode == 0, host_port.stderr  # -a accepts host:port
    empty = create_database(setup=False)
    try:
        done = cli("status", dbname=empty)
        assert done.returncode == 6 and "pgtrack setup" in done.stderr
    finally:
        drop_database(empty)


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "pgtrack")
    assert subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.startswith("pgtrack ")
