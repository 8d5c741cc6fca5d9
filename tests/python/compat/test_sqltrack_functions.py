"""SQLTrack's module-level functions, commands.migrate, sigterm, util and settings, with only the
import changed (``import pgtrack as sqltrack``), as its API reference documents them (seeds/)."""
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import pgtrack as sqltrack
from conftest import create_database, drop_database

# SQLTrack's documented example migration (its API reference, "sqltrack.commands.migrate"), verbatim.
V001 = """BEGIN;

ALTER TABLE metrics
  ADD COLUMN train_start TIMESTAMP WITH TIME ZONE,
  ADD COLUMN train_end TIMESTAMP WITH TIME ZONE,
  ADD COLUMN train_loss FLOAT,
  ADD COLUMN train_top1 FLOAT,
  ADD COLUMN train_top5 FLOAT,
  ADD COLUMN val_start TIMESTAMP WITH TIME ZONE,
  ADD COLUMN val_end TIMESTAMP WITH TIME ZONE,
  ADD COLUMN val_loss FLOAT,
  ADD COLUMN val_top1 FLOAT,
  ADD COLUMN val_top5 FLOAT;

END;
"""


def test_every_documented_module_function(client):
    exp = sqltrack.Experiment(client, name="module-api")
    other = sqltrack.Experiment(client, name="other")
    sqltrack.experiment_set_name(client, exp.id, "renamed")
    sqltrack.experiment_set_comment(client, exp.id, "c")
    sqltrack.experiment_set_tags(client, exp.id, "a", "b")
    sqltrack.experiment_add_tags(client, exp.id, "c")
    sqltrack.experiment_remove_tags(client, exp.id, "a")
    sqltrack.experiment_add_relationship(client, exp.id, "follows", other.id)
    assert client.one("SELECT name, comment, tags FROM pgtrack.experiments WHERE id = %s", (exp.id,)) == \
        ("renamed", "c", {"b": True, "c": True})
    assert client.value("SELECT count(*) FROM pgtrack.experiment_relationships") == 1
    sqltrack.experiment_remove_relationship(client, exp.id, "follows", other.id)
    assert client.value("SELECT count(*) FROM pgtrack.experiment_relationships") == 0

    run, before = exp.get_run(), exp.get_run()
    sqltrack.run_add_metrics(client, run.id, step=1, loss=0.5)
    sqltrack.run_add_metrics(client, run.id, 2, 0.5, loss=0.25, acc=0.9)
    assert client.execute("SELECT step, progress, loss, acc FROM pgtrack.metrics ORDER BY step") == \
        [(1, 0.0, 0.5, None), (2, 0.5, 0.25, 0.9)]
    sqltrack.run_set_status(client, run.id, "RUNNING")
    sqltrack.run_set_comment(client, run.id, "note")
    when = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    sqltrack.run_set_created(client, run.id, when)
    sqltrack.run_set_started(client, run.id, when)
    sqltrack.run_set_updated(client, run.id, when)
    sqltrack.run_set_tags(client, run.id, "x", "y")
    sqltrack.run_add_tags(client, run.id, "z")
    sqltrack.run_remove_tags(client, run.id, "x")
    sqltrack.run_set_args(client, run.id, {"lr": 0.1, "bs": 32})
    sqltrack.run_add_args(client, run.id, {"epochs": 3})
    sqltrack.run_remove_args(client, run.id, "bs")
    sqltrack.run_set_env(client, run.id, {"A": "1", "B": "2"})
    sqltrack.run_add_env(client, run.id, {"C": "3"})
    sqltrack.run_remove_env(client, run.id, "A")
    sqltrack.run_add_relationship(client, run.id, "resumes", before.id)
    assert client.one("SELECT status::text, comment, time_created, time_started, time_updated, tags, args, env "
                      "FROM pgtrack.runs WHERE id = %s", (run.id,)) == \
        ("RUNNING", "note", when, when, when, {"y": True, "z": True}, {"lr": 0.1, "epochs": 3}, {"B": "2", "C": "3"})
    assert client.value("SELECT count(*) FROM pgtrack.run_relationships") == 1
    sqltrack.run_remove_relationship(client, run.id, "resumes", before.id)
    assert client.value("SELECT count(*) FROM pgtrack.run_relationships") == 0
    for name in ("run_set_comment", "run_set_status", "run_set_created"):  # None does nothing, as in SQLTrack
        getattr(sqltrack, name)(client, run.id, None)
    assert client.value("SELECT comment FROM pgtrack.runs WHERE id = %s", (run.id,)) == "note"


def test_commands_migrate_runs_the_documented_script(tmp_path):
    from pgtrack.commands.migrate import migrate

    db = create_database(setup=False)
    try:
        with __import__("psycopg").connect(dbname=db, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pgtrack")
        client = sqltrack.Client(dbname=db)
        script = tmp_path / "v001.sql"
        script.write_text(V001)
        assert [ran for _, ran in migrate(client, [str(script)])] == [True]
        assert [ran for _, ran in migrate(client, tmp_path)] == [False]  # a directory: its scripts, once each
        names = {r[0] for r in client.execute("SELECT name FROM pgtrack.metric_columns()")}
        assert {"train_loss", "val_top5", "val_start"} <= names
        run = sqltrack.Experiment(client, name="migrated").get_run()
        sqltrack.run_add_metrics(client, run.id, step=1, val_top1=0.7)  # the writers know the new columns
        assert client.value("SELECT val_top1 FROM pgtrack.metrics") == 0.7
        assert client.value("SHOW search_path") == '"$user", public'  # nothing leaked out of migrate()
        bad = tmp_path / "v002.sql"
        bad.write_text("BEGIN;\nALTER TABLE no_such ADD COLUMN x int;\nEND;\n")
        with pytest.raises(sqltrack.PgtrackError, match="v002.sql at line 2 failed.*no_such"):
            migrate(client, [bad])
        base = tmp_path / "base.sql"
        base.write_text("SELECT 1")
        with pytest.raises(sqltrack.SchemaValidationError):
            migrate(client, [base])
    finally:
        drop_database(db)


def test_cli_setup_with_the_documented_script(dbname, tmp_path):
    script = tmp_path / "v001.sql"
    script.write_text(V001)
    done = subprocess.run([sys.executable, "-m", "pgtrack", "setup", str(script), "-s", "sqltrack"], capture_output=True,
                          text=True, env=dict(os.environ, PGDATABASE=dbname), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(NEW) v001.sql" in done.stdout


def test_util_and_sqltrack_settings(tmp_path, monkeypatch):
    from pgtrack.util import coalesce, load_config

    assert coalesce(None, 0, 1) == 0 and coalesce() is None and coalesce(None) is None
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith(("PGTRACK_", "SQLTRACK_"))]:
        monkeypatch.delenv(name)
    (tmp_path / "sqltrack.conf").write_text("dbname=from_file\nuser=someone\n")
    monkeypatch.setenv("SQLTRACK_DSN_USER", "from_env")
    assert load_config() == {"dbname": "from_file", "user": "from_env"}
    monkeypatch.setenv("PGTRACK_DSN_USER", "pgtrack_wins")
    assert load_config()["user"] == "pgtrack_wins"
    other = tmp_path / "elsewhere.conf"
    other.write_text("host=h\n")
    monkeypatch.setenv("SQLTRACK_CONFIG_PATH", str(other))
    assert load_config() == {"host": "h", "user": "pgtrack_wins"}


def test_run_from_env_reads_sqltrack_names(client, monkeypatch):
    for name in ("PGTRACK_EXPERIMENT_NAME", "PGTRACK_EXPERIMENT_ID", "PGTRACK_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SQLTRACK_EXPERIMENT_NAME", "from-slurm")
    monkeypatch.setenv("SQLTRACK_RUN_ID", "4242")
    run = sqltrack.run_from_env(client)
    assert run.id == 4242 and client.value("SELECT name FROM pgtrack.experiments") == "from-slurm"


def test_sigterm_callbacks(tmp_path):
    done = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time, pgtrack.sigterm as sigterm
        def stop():
            print("stopped", flush=True)
            sigterm.deregister("run")  # SQLTrack 0.1.4 crashed here
        sigterm.register("run", stop)
        sigterm.enable()
        print("ready", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert done.stdout.readline().strip() == "ready"
    done.send_signal(signal.SIGTERM)
    out, err = done.communicate(timeout=30)
    assert done.returncode == 143 and out.strip() == "stopped" and "Terminated" in err
