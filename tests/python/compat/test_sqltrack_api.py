"""SQLTrack 0.1.4's documented API on pgtrack, with its verified bugs fixed
(../shared/reference/sqltrack-0.1.4-behaviour.md §2)."""
import datetime as dt
import math

import pytest

import pgtrack
from parallel import run_parallel


def row(client, run_id, *cols):
    return client.one(f"SELECT {', '.join(cols)} FROM pgtrack.runs WHERE id = %s", (run_id,))


def test_experiment_get_or_create_with_tags(client):
    exp = pgtrack.Experiment(client, name="ImageNet", comment="first", tags=["a", "b"])
    again = pgtrack.Experiment(client, name="ImageNet", comment="ignored", tags=["c"])
    assert again.id == exp.id
    assert client.one("SELECT comment, tags FROM pgtrack.experiments WHERE id = %s", (exp.id,)) == ("first", {"a": True, "b": True})
    assert pgtrack.Experiment(client, experiment_id=exp.id).name == "ImageNet"
    with pytest.raises(ValueError):
        pgtrack.Experiment(client, experiment_id=exp.id + 1, name="ImageNet")
    with pytest.raises(pgtrack.NotFoundError):
        pgtrack.Experiment(client, experiment_id=999999)


def test_experiment_setters_and_relationships(client):
    exp, other = pgtrack.Experiment(client, name="e1"), pgtrack.Experiment(client, name="e2")
    exp.set_name("renamed"); exp.set_comment("c"); exp.set_tags("x", "y"); exp.add_tags("z"); exp.remove_tags("x")
    assert client.one("SELECT name, comment, tags FROM pgtrack.experiments WHERE id = %s", (exp.id,)) == \
        ("renamed", "c", {"y": True, "z": True})
    exp.add_relationship("derived_from", other); exp.add_relationship("derived_from", other.id)
    assert client.value("SELECT count(*) FROM pgtrack.experiment_relationships") == 1
    exp.remove_relationship("derived_from", other)
    assert client.value("SELECT count(*) FROM pgtrack.experiment_relationships") == 0
    with pytest.raises(pgtrack.SchemaValidationError):
        other.set_name("renamed")


def _create_experiment(conn, index, dbname):
    return pgtrack.Experiment(pgtrack.Client(dbname=dbname), name="slurm-array").id


def test_twelve_processes_create_one_experiment(client, dbname):
    results = run_parallel(dbname, _create_experiment, 12, (dbname,))
    assert {status for status, _ in results} == {"ok"} and len({value for _, value in results}) == 1


def test_run_setters(client):
    exp = pgtrack.Experiment(client, name="r")
    run = exp.get_run(comment="c0", tags=["t0"], args={"lr": 0.1}, env={"A": "1"})
    assert row(client, run.id, "comment", "tags", "args", "env") == ("c0", {"t0": True}, {"lr": 0.1}, {"A": "1"})
    run.set_comment(None)
    assert row(client, run.id, "comment") == ("c0",)  # None does nothing (SQLTrack)
    run.set_tags(); run.add_tags("a", "b"); run.remove_tags("a")
    run.add_args({"epochs": 3}); run.remove_args("lr")
    run.add_env({"B": "2"}); run.remove_env("A")
    assert row(client, run.id, "tags", "args", "env") == ({"b": True}, {"epochs": 3}, {"B": "2"})
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    run.set_created(when); run.set_started(when); run.set_updated(when)
    assert row(client, run.id, "time_created", "time_started", "time_updated") == (when, when, when)
    run.set_started(None)  # does nothing
    with pytest.raises(pgtrack.SchemaValidationError):
        run.set_started(dt.datetime(2024, 1, 1))  # naive
    run.set_status("REQUEUED")
    assert run.refresh().status == "REQUEUED"
    other = exp.get_run()
    run.add_relationship("resumed_from", other)
    assert client.value("SELECT kind FROM pgtrack.run_relationships") == "resumed_from"
    run.remove_relationship("resumed_from", other.id)
    with pytest.raises(pgtrack.SchemaValidationError):
        run.set_status("BOGUS")


def test_explicit_run_ids_from_environment(client, monkeypatch):
    exp = pgtrack.Experiment(client, name="slurm")
    monkeypatch.setenv("SLURM_JOB_ID", "999")
    run = pgtrack.Run(client, exp.id, run_id="SLURM_JOB_ID")
    assert run.id == 999 and pgtrack.Run(client, exp.id, run_id=999).id == 999
    assert pgtrack.Run(client, run_id=999).experiment_id == exp.id
    assert all(exp.get_run().id != 999 for _ in range(3))
    monkeypatch.setenv("SLURM_JOB_ID", "")
    with pytest.raises(ValueError, match="SLURM_JOB_ID"):
        pgtrack.Run(client, exp.id, run_id="SLURM_JOB_ID")
    with pytest.raises(pgtrack.NotFoundError):
        pgtrack.Run(client, run_id=123456)


def test_run_from_env(client, monkeypatch):
    for name in ("PGTRACK_EXPERIMENT_ID", "PGTRACK_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGTRACK_EXPERIMENT_NAME", "from-env")
    first = pgtrack.run_from_env(client)
    assert first.experiment_id == pgtrack.Experiment(client, name="from-env").id
    monkeypatch.setenv("PGTRACK_RUN_ID", "4242")
    assert pgtrack.run_from_env(client).id == 4242
    monkeypatch.delenv("PGTRACK_EXPERIMENT_NAME")
    monkeypatch.setenv("PGTRACK_EXPERIMENT_ID", str(first.experiment_id))
    assert pgtrack.run_from_env(client).id == 4242
    monkeypatch.delenv("PGTRACK_EXPERIMENT_ID")
    with pytest.raises(ValueError):
        pgtrack.run_from_env(client)


def test_env_auto_drops_secrets(client, monkeypatch):
    monkeypatch.setenv("PGTRACK_DSN_PASSWORD", "x"); monkeypatch.setenv("PGPASSWORD", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x"); monkeypatch.setenv("HF_TOKEN", "x")
    monkeypatch.setenv("my_api_key", "x"); monkeypatch.setenv("CREDENTIALS_FILE", "x")
    monkeypatch.setenv("SLURM_JOB_NAME", "train")
    run = pgtrack.Experiment(client, name="env").get_run(env="auto")
    env = row(client, run.id, "env")[0]
    assert env["SLURM_JOB_NAME"] == "train"
    assert not {"PGTRACK_DSN_PASSWORD", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "my_api_key",
                "CREDENTIALS_FILE"} & set(env)
    from pgtrack.environment import capture_env
    assert capture_env(allow=["SLURM_*"]) == {"SLURM_JOB_NAME": "train"}
    assert "SLURM_JOB_NAME" not in capture_env(deny=["SLURM_*"])


def test_args_auto_without_docopt_usage_records_argv(client):
    run = pgtrack.Experiment(client, name="args").get_run(args="auto")
    assert "argv" in row(client, run.id, "args")[0]


def test_add_metrics_with_explicit_updated(client):
    run = pgtrack.Experiment(client, name="m").get_run()
    when = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
    run.add_metrics(step=1, progress=0.5, set_updated=when, loss=math.inf)
    run.add_metrics(step=1, progress=0.5, set_updated=None, acc=1.0)
    assert client.one("SELECT loss, acc FROM pgtrack.metrics WHERE run_id = %s AND progress = 0.5", (run.id,)) == (math.inf, 1.0)
    assert row(client, run.id, "time_updated") == (when,)
