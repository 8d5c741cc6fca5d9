"""The first hour (issue 15): statuses compared as wallow users write them, metrics nobody declared
(names as frameworks write them, 8 processes at once, a writer refused in Python terms), dead runs
shown as lost, and notebook helpers that take a name."""
import datetime as dt
import json
import uuid

import psycopg
import pytest

import pgtrack
import pgtrack.pandas
import pgtrack.plot
from parallel import run_parallel


def test_status_compares_as_wallow_users_write_it(client):
    exp = pgtrack.Experiment(client, name="s")
    run = exp.get_run()
    with run.track():
        pass
    status = run.refresh().status
    assert status == "completed" and status == "COMPLETED" and status == "done" and status == "Completed"
    assert status != "running" and not (status != "completed")
    assert str(status) == "COMPLETED" and f"{status}" == "COMPLETED" and status in {"COMPLETED"}
    exp.declare_identifying("k", "int")
    result = exp.register({"k": 1}, {"status": "running"}, on_duplicate="raise")
    assert result.run.status == "running" and str(result.run.status) == "RUNNING"
    assert exp.find(k=1).status == "RUNNING"
    assert run["status"] == "completed"


def test_wallows_resume_safe_pattern(client):
    """wallow README, "The resume-safe pattern", with only the import changed: a rerun after a crash
    retrains the combo that was running, skips the completed one, and never overwrites its metrics."""
    exp = pgtrack.Experiment(client, name="resume")
    exp.declare_identifying("lr", "float")
    client.execute("SELECT pgtrack.add_run_column('val_loss', 'double precision')")
    trained = []

    def dispatch(combos, crash_on=None):
        for combo in combos:
            result = pgtrack.register(exp, identifying=combo, annotating={"status": "running"},
                                      on_duplicate="return_existing")
            run = result.run
            if run.status == "completed":
                continue
            if combo == crash_on:
                return  # the dispatcher dies with this combo "running"
            trained.append(combo["lr"])
            pgtrack.register(exp, identifying=combo, annotating={"status": "completed", "val_loss": combo["lr"] * 2},
                             on_duplicate="overwrite")

    combos = [{"lr": 0.1}, {"lr": 0.01}, {"lr": 0.001}]
    dispatch(combos, crash_on={"lr": 0.01})
    assert trained == [0.1]
    dispatch(combos)
    assert trained == [0.1, 0.01, 0.001]  # 0.1 skipped on the rerun: no retraining, no overwrite
    assert sorted(r[0] for r in client.execute("SELECT status::text FROM pgtrack.runs WHERE experiment_id = %s", (exp.id,))) \
        == ["COMPLETED"] * 3


NAMES = ["train/loss", "val/acc@1", "lr-AdamW", "Eval Loss", 'say "hi"', "a.b", "x;DROP TABLE pgtrack.runs"]


def test_metric_names_as_frameworks_write_them(client):
    run = pgtrack.Experiment(client, name="names").get_run()
    with run.track():
        for step in range(3):
            run.add_metrics(step=step, **{name: step + i / 10 for i, name in enumerate(NAMES)})
    listed = {r[0] for r in client.execute("SELECT name FROM pgtrack.metric_columns()")}
    assert set(NAMES) <= listed
    assert client.value('SELECT "train/loss" FROM pgtrack.metrics WHERE run_id = %s AND step = 2', (run.id,)) == 2.0
    assert client.value('SELECT "x;DROP TABLE pgtrack.runs" FROM pgtrack.metrics WHERE run_id = %s AND step = 1', (run.id,)) == 1.6
    assert client.value("SELECT to_regclass('pgtrack.runs') IS NOT NULL")
    frame = pgtrack.pandas.runs(run.experiment)
    assert frame.loc[0, "final val/acc@1"] == 2.1 and frame.loc[0, 'best say "hi"'] == 0.4
    history = pgtrack.pandas.history(run, ["Eval Loss", "a.b"])
    assert list(history.columns) == ["run_id", "step", "progress", "metric", "value"] and len(history) == 6
    assert client.add_metric("lr-AdamW") is False and pgtrack.Experiment(client, name="names").add_metric("m2") is True


def _first_use(conn, index, run_ids):
    conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, '{\"shared/new\": 1.5}', add_missing => true)",
                 (run_ids[index], index))
    return True


def test_concurrent_first_use_from_8_processes_makes_one_column(client, dbname):
    exp = pgtrack.Experiment(client, name="race")
    run_ids = [exp.get_run().id for _ in range(8)]
    results = run_parallel(dbname, _first_use, 8, (run_ids,))
    assert results == [("ok", True)] * 8
    assert client.value("SELECT count(*) FROM pg_attribute WHERE attrelid = 'pgtrack.metrics'::regclass "
                        "AND attname = 'shared/new' AND NOT attisdropped") == 1
    assert client.value('SELECT count("shared/new") FROM pgtrack.metrics') == 8  # no value lost


def test_a_writer_gets_a_python_hint_instead_of_a_column(dbname):
    role = f"w_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbname=dbname, autocommit=True) as admin:
        admin.execute("SELECT pgtrack.grant_roles()")
        admin.execute(f"CREATE ROLE {role} LOGIN IN ROLE pgtrack_writer")
    try:
        writer = pgtrack.Client(dbname=dbname, user=role)
        run = pgtrack.Experiment(writer, name="w").get_run()
        with pytest.raises(pgtrack.SchemaChangeError) as caught:
            run.add_metrics(step=1, **{"val/loss": 0.5})
        assert "val/loss" in caught.value.message and role in caught.value.message
        assert caught.value.hint.endswith("client.add_metric('val/loss')")
        assert writer.value("SELECT count(*) FROM pgtrack.metrics") == 0  # nothing changed
        writer.close()
    finally:
        with psycopg.connect(dbname=dbname, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_bad_steps_are_python_errors(client):
    run = pgtrack.Experiment(client, name="steps").get_run()
    for bad in (1.5, 2 ** 70, "3", True):
        with pytest.raises(pgtrack.SchemaValidationError):
            run.add_metrics(step=bad, loss=1.0)
    with pytest.raises(pgtrack.SchemaValidationError):
        run.add_metrics(step=1, progress="half", loss=1.0)
    assert client.value("SELECT count(*) FROM pgtrack.metrics") == 0


def test_dead_runs_show_as_lost(client):
    exp = pgtrack.Experiment(client, name="lost")
    dead, alive = exp.get_run(), exp.get_run()
    dead.start(), alive.start()
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '11 minutes' WHERE id = %s", (dead.id,))
    shown = dict(client.execute("SELECT run_id, shown_status FROM pgtrack.runs_status(%s)", (exp.id,)))
    assert shown == {dead.id: "LOST", alive.id: "RUNNING"}
    frame = pgtrack.pandas.runs(client, "lost")
    assert dict(zip(frame["id"], frame["status"])) == shown
    summary = client.execute("SELECT status::text, lost FROM pgtrack.experiment_summary(%s)", (exp.id,))
    assert summary == [("RUNNING", 1)]


def test_experiment_get_does_not_create(client):
    pgtrack.Experiment(client, name="mnist")
    with pytest.raises(pgtrack.NotFoundError) as caught:
        pgtrack.Experiment.get(client, "mnsit")
    assert "did you mean 'mnist'" in str(caught.value)
    assert client.value("SELECT count(*) FROM pgtrack.experiments") == 1
    assert pgtrack.Experiment.get(client, "mnist").id == pgtrack.Experiment.get(client, 1).id
    with pytest.raises(pgtrack.NotFoundError):
        pgtrack.pandas.best_runs(client, "mnsit", "loss")
    assert pgtrack.pandas.best_runs(client, "mnist", "loss").empty


def test_hints_in_python_errors_are_python(client):
    exp = pgtrack.Experiment(client, name="hints")
    with pytest.raises(pgtrack.SchemaValidationError) as caught:
        exp.register({"lr": 0.1}, on_duplicate="raise")
    assert "experiment.declare_identifying(name, type)" in caught.value.hint and "SELECT" not in caught.value.hint
    assert "pgtrack.declare_identifying()" in caught.value.sql_hint  # the server's words stay available
    with pytest.raises(pgtrack.NotFoundError) as caught:
        client.execute("SELECT pgtrack.create_run(987654)")
    assert "pgtrack.Experiment(client, name=...)" in caught.value.hint


def test_report_shows_lost_runs_and_survives_mathtext(client, tmp_path):
    pytest.importorskip("matplotlib")
    from pgtrack.report import write_report

    exp = pgtrack.Experiment(client, name="report")
    exp.declare_identifying("name", "string")
    for value in ("$\\undefinedcommand$", "price $5 and $6", "plain"):
        run = exp.register({"name": value}, on_duplicate="raise").run
        with run.track():
            run.add_metrics(step=1, loss=1.0)
            run.add_metrics(step=2, **{"$x^$": 0.5})  # a metric name with mathtext too
    dead = exp.register({"name": "dead"}, on_duplicate="raise").run
    dead.start()
    dead.add_metrics(step=1, loss=2.0)
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (dead.id,))
    info = write_report(client, "report", tmp_path / "r.html")
    page = info.path.read_text()
    data = json.loads(page.split('<script type="application/json" id="pgtrack-data">')[1].split("</script>")[0])
    values = {row["name"]: row["status"] for row in data["runs"]["rows"]}
    assert info.runs == 4 and values["$\\undefinedcommand$"] == "COMPLETED" and values["dead"] == "LOST"
    figure = pgtrack.plot.curves(client, [dead.id], "loss", labels={dead.id: "$\\undefinedcommand$"})
    figure.savefig(tmp_path / "c.svg")  # drawing parses no mathtext
