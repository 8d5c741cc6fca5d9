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
    (["bogus"], 1, "unknown command 'bogus'"),
    (["runz"], 1, "did you mean 'runs'"),
    (["metrics", "add", "run_id"], 5, "is reserved"),
    (["metrics", "add", "bad\tname"], 5, "invalid metric name"),
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


def test_global_options_after_the_command(tracked, dbname):
    after = json.loads(cli("runs", "cli-exp", "--json", dbname=dbname, check=0).stdout)
    before = json.loads(cli("--json", "runs", "cli-exp", dbname=dbname, check=0).stdout)
    assert [r["id"] for r in after] == [r["id"] for r in before] and len(after) == 3
    assert json.loads(cli("experiments", "--json", dbname=dbname, check=0).stdout)[0]["name"] == "cli-exp"
    # connection options after the command too (and not undone by the subcommand's defaults)
    env_less = subprocess.run([sys.executable, "-m", "pgtrack", "status", "--json", "-d", dbname], capture_output=True,
                              text=True, env={k: v for k, v in os.environ.items() if k != "PGDATABASE"}, timeout=60)
    assert json.loads(env_less.stdout)["database"] == dbname
    assert "did you mean 'cli-exp'" in cli("runs", "cli-exq", dbname=dbname).stderr


def test_output_into_a_closed_pipe_ends_quietly(tracked, dbname):
    env = dict(os.environ, PGDATABASE=dbname)
    run_id = json.loads(cli("--json", "runs", dbname=dbname, check=0).stdout)[0]["id"]
    done = subprocess.run(f"{sys.executable} -m pgtrack inspect {run_id} | head -1; exit ${{PIPESTATUS[0]}}", shell=True,
                          executable="/bin/bash", capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    many = subprocess.run(f"{sys.executable} -m pgtrack --json runs | head -c 10; exit ${{PIPESTATUS[0]}}", shell=True,
                          executable="/bin/bash", capture_output=True, text=True, env=env, timeout=60)
    assert many.returncode == 0 and many.stderr == "", many.stderr


def test_a_migration_scripts_own_error_is_reported_as_such(dbname, tmp_path):
    script = tmp_path / "v002.sql"
    script.write_text("SELECT 1;\n\nALTER TABLE no_such_table ADD COLUMN x int;\n")
    done = cli("setup", str(script), dbname=dbname)
    assert done.returncode == 5, done.stderr
    assert "v002.sql at line 3 failed" in done.stderr and 'relation "no_such_table" does not exist' in done.stderr
    assert "pgtrack is missing" not in done.stderr


def test_report_defaults_to_the_experiment_name(tracked, dbname, tmp_path):
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, "-m", "pgtrack", "report", "cli-exp"], capture_output=True, text=True,
                          env=dict(os.environ, PGDATABASE=dbname), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli-exp.html").is_file()


def test_experiments_rename_and_delete(tracked, dbname):
    assert "renamed" in cli("experiments", "rename", "cli-exp", "renamed-exp", dbname=dbname, check=0).stdout
    unconfirmed = subprocess.run([sys.executable, "-m", "pgtrack", "experiments", "delete", "renamed-exp"], capture_output=True,
                                 text=True, env=dict(os.environ, PGDATABASE=dbname), stdin=subprocess.DEVNULL, timeout=60)
    assert unconfirmed.returncode == 1 and "3 runs and 10 metric rows" in unconfirmed.stderr and "--yes" in unconfirmed.stderr
    deleted = json.loads(cli("experiments", "delete", "renamed-exp", "--yes", "--json", dbname=dbname, check=0).stdout)
    assert deleted == {"experiment": "renamed-exp", "id": tracked.id, "runs": 3, "metric_rows": 10}
    assert json.loads(cli("--json", "experiments", dbname=dbname, check=0).stdout) == []


def test_lost_runs_in_runs_status_and_inspect(client, dbname):
    import pgtrack

    run = pgtrack.Experiment(client, name="dead").get_run()
    run.start()
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (run.id,))
    runs = json.loads(cli("runs", "dead", "--json", dbname=dbname, check=0).stdout)
    assert runs[0]["status"] == "LOST"
    assert json.loads(cli("runs", "--status", "lost", "--json", dbname=dbname, check=0).stdout)[0]["id"] == run.id
    assert json.loads(cli("status", "--json", dbname=dbname, check=0).stdout)["runs LOST"] == 1
    assert json.loads(cli("inspect", str(run.id), "--json", dbname=dbname, check=0).stdout)["status"].startswith("LOST")


def test_small_things_a_user_meets(client, dbname):
    """CANCELLED runs are counted; a traceback keeps its lines; stored text cannot drive the terminal;
    wallow's status spellings work on the command line as in Python; a busy port says so."""
    import socket

    import pgtrack

    exp = pgtrack.Experiment(client, name="small")
    cancelled, failed = exp.get_run(), exp.get_run(comment="\x1b]0;owned\x07\x1b[2Jtext \u202eevil")
    cancelled.set_status("CANCELLED")
    failed.set_status("FAILED")
    client.execute("UPDATE pgtrack.runs SET error = %s WHERE id = %s",
                   ("Traceback (most recent call last):\n  File \"train.py\", line 3\nValueError: boom", failed.id))
    rows = json.loads(cli("experiments", "--json", dbname=dbname, check=0).stdout)
    assert [r["cancelled"] for r in rows if r["name"] == "small"] == [1]
    shown = cli("inspect", str(failed.id), dbname=dbname, check=0).stdout
    assert "\n    " in shown.split("error:")[1] and "  File \"train.py\", line 3" in shown  # one line each
    assert "\x1b" not in shown and "\u202e" not in shown and "\\x1b]0;owned" in shown
    done = json.loads(cli("runs", "small", "--status", "failed", "--json", dbname=dbname, check=0).stdout)
    assert [r["id"] for r in done] == [failed.id]
    cli("runs", "small", "--status", "done", dbname=dbname, check=0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused = cli("ui", "small", "--no-browser", "--port", str(port), dbname=dbname)
    assert refused.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in refused.stderr and "--port 0" in refused.stderr
