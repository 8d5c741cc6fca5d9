"""The hostile corpus (hostile.py) through the entry points that take a name or a value but no metric
column: experiment names, tags, comments, args, relationship kinds and identifying values, from SQL,
from the Python API, from the command line and from the dashboard's JSON API. Each entry is stored and
read back exactly, or refused with a pgtrack error that changes nothing; never a raw driver error, a
traceback or a page that fails."""
import json
import subprocess
import sys
import threading
import urllib.request

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile
import pgtrack
from pgtrack.errors import PgtrackError

CORPUS = list(dict.fromkeys(hostile.CORPUS))


def _refused_cleanly(call):
    """Run call(); True if it worked, False if pgtrack refused it (a PgtrackError). Anything else fails."""
    try:
        call()
    except PgtrackError:
        return False
    return True


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_sql_labels_and_values_round_trip_or_pt003(conn, text):
    def sql(statement, *params):
        try:
            return conn.execute(statement, params).fetchone()
        except psycopg.DataError:  # a NUL or a lone surrogate: PostgreSQL holds no such text
            assert not hostile.storable(text)
            raise pytest.skip.Exception("not storable text") from None
        except UnicodeEncodeError:
            assert not hostile.storable(text)
            raise pytest.skip.Exception("not storable text") from None

    counts = conn.execute("SELECT (SELECT count(*) FROM pgtrack.experiments), (SELECT count(*) FROM pgtrack.runs)").fetchone()
    try:
        exp = sql("SELECT pgtrack.experiment(%s)", text)[0]
    except psycopg.Error as error:
        assert error.sqlstate == "PT003", (text, error.sqlstate, str(error))
        assert conn.execute("SELECT (SELECT count(*) FROM pgtrack.experiments), (SELECT count(*) FROM pgtrack.runs)").fetchone() == counts
        exp = sql("SELECT pgtrack.experiment('plain')")[0]
    else:
        assert sql("SELECT name FROM pgtrack.experiments WHERE id = %s", exp)[0] == text
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'opt', 'string')", (exp,))
    run = sql("SELECT run_id FROM pgtrack.register(%s, jsonb_build_object('opt', %s::text), on_duplicate => 'return_existing')", exp, text)[0]
    assert sql("SELECT identity ->> 'opt' FROM pgtrack.runs WHERE id = %s", run)[0] == text
    assert sql("SELECT pgtrack.find_run(%s, jsonb_build_object('opt', %s::text))", exp, text)[0] == run
    sql("SELECT pgtrack.run_add_args(%s, jsonb_build_object(%s::text, %s::text))", run, text, text)
    sql("SELECT pgtrack.run_set_comment(%s, %s)", run, text)
    try:
        sql("SELECT pgtrack.run_add_tags(%s, %s)", run, text)
        assert sql("SELECT tags ? %s FROM pgtrack.runs WHERE id = %s", text, run)[0]
    except psycopg.Error as error:
        assert error.sqlstate == "PT003", (text, error.sqlstate, str(error))
    try:
        sql("SELECT pgtrack.run_add_relationship(%s, %s, %s)", run, text, run)
    except psycopg.Error as error:
        assert error.sqlstate == "PT003", (text, error.sqlstate, str(error))
    row = sql("SELECT args ->> %s, comment FROM pgtrack.runs WHERE id = %s", text, run)
    assert row == (text, text)


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_python_api_round_trips_or_raises_a_pgtrack_error(client, text):
    created = []
    if not _refused_cleanly(lambda: created.append(pgtrack.Experiment(client, name=text))):
        assert not created
        experiment = pgtrack.Experiment(client, name="plain")
    else:
        experiment = created[0]
        assert pgtrack.Experiment(client, name=text).id == experiment.id
    runs = client.value("SELECT count(*) FROM pgtrack.runs")
    if not _refused_cleanly(lambda: experiment.get_run(args={text: text}, comment=text, tags=[text])):
        assert client.value("SELECT count(*) FROM pgtrack.runs") == runs  # refused: nothing made
        return
    run = experiment.get_run(args={text: text}, comment=text, tags=[text])
    row = run.refresh()
    assert row.args[text] == text and row.comment == text and text in row.tags


def test_the_cli_and_the_dashboard_show_every_name_as_text(dbname, client):
    """Every storable corpus entry as an experiment name, a tag, a comment, an arg and an identifying
    value: `pgtrack runs`/`experiments`/`inspect` exit 0 without a traceback, and every dashboard JSON
    endpoint answers 200 with the text as it is."""
    from pgtrack.ui import make_server, url_of
    from pgtrack.ui.server import auth_header

    storable = [t for t in CORPUS if hostile.storable(t) and t.strip() and len(t.encode()) <= 255]
    experiment = pgtrack.Experiment(client, name="corpus")
    experiment.declare_identifying("opt", "string")
    runs = []
    for text in storable:
        run = experiment.register({"opt": text}, on_duplicate="return_existing").run
        run.add_args({text: text})
        run.add_metrics(step=1, loss=0.5)
        runs.append(run)
    env = {"PGDATABASE": dbname}
    for args in (["experiments"], ["runs", "corpus"], ["inspect", str(runs[0].id)]):
        done = subprocess.run([sys.executable, "-m", "pgtrack", *args], capture_output=True, text=True, timeout=120,
                              env={**__import__("os").environ, **env})
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
    server = make_server(client, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = url_of(server).split("#")[0].rstrip("/")  # the printed URL's token is in its fragment

        def fetch(path):  # as the page asks: the token in the Authorization header
            request = urllib.request.Request(base + path, headers=auth_header(server))
            return urllib.request.urlopen(request, timeout=60).read().decode()

        payloads = [fetch(f"/api/experiments/{experiment.id}/runs?limit=500")]
        payloads += [fetch(f"/api/runs/{run.id}") for run in runs[:10]]
        text = json.dumps([json.loads(p) for p in payloads])
        for name in storable:
            assert json.dumps(name)[1:-1] in text, name
    finally:
        server.shutdown()
        server.server_close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile.names_strategy(), number=st.floats(allow_nan=True, allow_infinity=True))
def test_generated_values_round_trip_or_raise_a_pgtrack_error(client, text, number):
    """Hypothesis: text built from the corpus' pieces as an arg key and value, a comment and an
    identifying value, and any float as a metric: stored exactly, or a PgtrackError that writes nothing."""
    experiment = pgtrack.Experiment(client, name="values")
    experiment.declare_identifying("opt", "string")
    runs = client.value("SELECT count(*) FROM pgtrack.runs")
    try:
        run = experiment.register({"opt": text}, {"comment": text}, on_duplicate="return_existing").run
    except PgtrackError:
        assert client.value("SELECT count(*) FROM pgtrack.runs") == runs
        return
    assert run.refresh().identity["opt"] == text
    if _refused_cleanly(lambda: run.add_args({text: text})):
        assert run.refresh().args[text] == text
    run.add_metrics(step=1, loss=number)
    stored = client.value("SELECT loss FROM pgtrack.metrics WHERE run_id = %s AND step = 1", (run.id,))
    assert stored == number or (stored != stored and number != number)


STORABLE = [t for t in CORPUS if hostile.storable(t)]


@pytest.mark.parametrize("text", STORABLE, ids=range(len(STORABLE)))
def test_the_wallow_and_sqltrack_faces_take_the_corpus_as_data(client, tmp_path, text):
    """wallow: a schema file whose project, field and annotating names and identifying value are
    corpus text; its artefacts directory stays under its root. SQLTrack: the module-level functions
    and migrate() with corpus names. Each works, or raises a PgtrackError (or wallow's schema error)."""
    from pgtrack.store import Store

    toml = (f"[project]\nname = {json.dumps('w ' + text)}\nartefacts_root = {json.dumps(str(tmp_path / 'art'))}\n"
            f"artefacts_layout = \"{{opt}}\"\n[identifying.opt]\ntype = \"str\"\n"
            f"[annotating.{json.dumps(text)}]\ntype = \"str\"\n")
    path = tmp_path / "wallow.toml"
    path.write_text(toml, encoding="utf-8")
    try:
        experiment = pgtrack.load_schema(path, client)
    except (PgtrackError, ValueError) as exc:  # wallow's SchemaParseError is a ValueError
        assert str(exc)
    else:
        run = experiment.register({"opt": text}, on_duplicate="return_existing").run
        try:
            where = Store(experiment).artefacts_dir(run)
        except ValueError as exc:  # a value that cannot name a directory
            assert "escape" in str(exc) or "artefacts" in str(exc)
        else:
            assert (tmp_path / "art").resolve() in where.parents or where == (tmp_path / "art").resolve()
    exp = pgtrack.Experiment(client, name="faces")
    if _refused_cleanly(lambda: pgtrack.experiment_add_tags(client, exp.id, text)):
        assert client.value("SELECT tags ? %s FROM pgtrack.experiments WHERE id = %s", (text, exp.id))
    run = exp.get_run()
    if _refused_cleanly(lambda: pgtrack.run_set_comment(client, run.id, text)):
        assert run.refresh().comment == text
    _refused_cleanly(lambda: client.value("SELECT pgtrack.migrate(%s, 'SELECT 1')", (text,)))
