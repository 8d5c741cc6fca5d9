"""SQLTrack code with only its import changed (``import sqltrack`` -> ``import pgtrack as sqltrack``,
``from sqltrack.x import y`` -> ``from pgtrack.x import y``), issue 34: parsed arguments with attribute
access, ``sigterm.enable()`` with ``track()``, and the names of the released 0.1.4 (``commands.setup``
with inline scripts, ``*_link``, the tables ``experiment_links``/``run_links`` in user SQL). The search
path behind plain table names (``Client(schema=...)``) is test_sqltrack_schema.py."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import psycopg
import pytest

import pgtrack as sqltrack
from conftest import admin_connect, create_database, drop_database, drop_roles, run_python
from pgtrack import args as pgargs

docopt = pytest.importorskip("docopt")

def test_import_sqltrack_reaches_its_modules_as_attributes():
    """SQLTrack 0.1.4's ``import sqltrack`` made args, sigterm, queries and util attributes (its model
    imported them): ``sqltrack.sigterm.enable()`` needs no import of its own."""
    done = subprocess.run([sys.executable, "-c", "import pgtrack as sqltrack; "
                           "print(sqltrack.sigterm.enable, sqltrack.args.detect_args, sqltrack.queries.first_value, "
                           "sqltrack.util.coalesce, sqltrack.client.Client)"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- 1. parsed arguments ----------------------------------------------------------------------------

# SQLTrack's docopt example (its docs, "docopt.rst": examples/argument_parsing.py), import changed.
ARGUMENT_PARSING = '''"""Train a model.

Usage:
    train.py [options] <data_path> [--tag=T]...
    train.py COMMAND <data_path>

Options:
    -e --epochs=N          epochs [default: 90]
    -b --batch-size=B      batch size [default: 256]
    --size-hw=HW           input size [default: 3x4]
    --amp                  mixed precision
"""
import json, sys
from pgtrack.args import docopt_arguments, make_conversion, register_conversion

register_conversion("hw", make_conversion("--size-*", lambda v: [int(x) for x in v.split("x")]))


@docopt_arguments
def main(args):
    print(json.dumps([args.epochs, args.batch_size, args.data_path, args.amp, args.size_hw, args.tag,
                      args.COMMAND, args.missing, isinstance(args, dict)]))


if __name__ == "__main__":
    main({"amp": True, "epochs": 360} if "--override" in sys.argv[1:2] else {})
'''


def test_a_sqltrack_script_reads_its_arguments_as_attributes(tmp_path):
    script = tmp_path / "argument_parsing.py"
    script.write_text(ARGUMENT_PARSING)
    done = subprocess.run([sys.executable, str(script), "data", "-e", "180", "--tag=a", "--size-hw=5x7"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [180, 256, "data", False, [5, 7], ["a"], None, None, True]


def test_overrides_keep_attribute_access(tmp_path, monkeypatch):
    import importlib.util

    script = tmp_path / "argument_parsing.py"
    script.write_text(ARGUMENT_PARSING)
    spec = importlib.util.spec_from_file_location("argument_parsing", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setattr(pgargs, "_conversions", list(pgargs._conversions))  # the module registers one
    spec.loader.exec_module(module)
    seen = []
    monkeypatch.setattr(module, "print", seen.append, raising=False)
    monkeypatch.setattr(sys, "argv", [str(script), "data", "-e", "180"])
    module.main({"amp": True, "epochs": 360})
    assert json.loads(seen[0])[:5] == [360, 256, "data", True, [3, 4]]


ATTRIBUTES = ["epochs", "batch_size", "data_path", "amp", "COMMAND", "tag", "file", "v", "missing", "batch-size",
              "input-file", "input_file", "e"]


@pytest.mark.parametrize("parsed", [
    {"--epochs": "90", "--batch-size": "256", "<data_path>": "d", "--amp": False, "COMMAND": None, "--tag": ["a"],
     "<input-file>": "f", "-v": True, "-e": 0},
    {"epochs": 90, "batch_size": 256, "data_path": "d", "amp": False, "COMMAND": "go", "tag": [], "v": 0},
])
def test_attribute_access_answers_as_docopt_ng_does(parsed):
    ours, theirs = pgargs.ParsedOptions(parsed), docopt.ParsedOptions(parsed)
    assert {name: getattr(ours, name) for name in ATTRIBUTES} == {name: getattr(theirs, name) for name in ATTRIBUTES}
    assert ours == parsed and json.loads(json.dumps(ours)) == json.loads(json.dumps(parsed))


def test_attribute_access_on_every_result_and_dunders_stay_python():
    import copy
    import pickle

    converted = pgargs.convert_arguments({"--batch-size": "64", "<file>": "f"}, simplify_names=False)
    assert converted.batch_size == 64 and converted.file == "f" and converted == {"--batch-size": 64, "<file>": "f"}
    simplified = pgargs.convert_arguments({"--batch-size": "64"})
    assert simplified.batch_size == 64 and type(simplified) is pgargs.ParsedOptions
    assert copy.deepcopy(simplified) == simplified and pickle.loads(pickle.dumps(simplified)) == simplified
    with pytest.raises(AttributeError):
        simplified.__array_interface__


def test_conversions_match_docopts_names_as_sqltrack_and_simplified_names_as_before(monkeypatch):
    monkeypatch.setattr(pgargs, "_conversions", list(pgargs._conversions))
    raw = {"--size-hw": "3x4", "--crop-hw": "1x2", "--other": "5", "<in_path>": "a/b"}

    def hw_sqltrack_style(name, value):  # SQLTrack's documented signature: (value, matched)
        if name.startswith("--size-"):
            return [int(x) for x in value.split("x")], True
        return value, False

    pgargs.register_conversion("hw", hw_sqltrack_style)
    assert pgargs.convert_arguments(raw) == {"size_hw": [3, 4], "crop_hw": "1x2", "other": 5, "in_path": "a/b"}
    pgargs.register_conversion("crop", pgargs.make_conversion("crop_*", lambda v: v.upper()))  # today's form
    assert pgargs.convert_arguments(raw)["crop_hw"] == "1X2"
    pgargs.register_conversion("hw", pgargs.make_conversion("*_hw", lambda v: v[::-1]))  # replaced in its place
    assert [n for n, _ in pgargs._conversions][-2:] == ["hw", "crop"]
    assert pgargs.convert_arguments(raw)["size_hw"] == "4x3" and pgargs.convert_arguments(raw)["crop_hw"] == "2x1"
    assert pgargs.convert_argument("--n-int", "7") == 7 and pgargs.convert_argument("n_str", "7") == "7"


# -- 2. sigterm.enable() and track() ----------------------------------------------------------------

ENABLED = """
import sys, time
import pgtrack as sqltrack

sqltrack.sigterm.enable()
client = sqltrack.Client(dbname=sys.argv[1])
run = sqltrack.Experiment(client, name="sigterm").get_run()
sqltrack.sigterm.register("note", lambda: print("callback ran", flush=True))
print(run.id, flush=True)
with run.track(terminated="CANCELLED"{track_args}):
    run.add_metrics(step=1, loss=0.5)
    print("ready", flush=True)
    time.sleep(30)
"""

OWN_HANDLER = """
import signal, sys, time
import pgtrack as sqltrack

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # a script's own handler, SQLTrack style
client = sqltrack.Client(dbname=sys.argv[1])
run = sqltrack.Experiment(client, name="sigterm").get_run()
print(run.id, flush=True)
with run.track(terminated="CANCELLED"):
    print("ready", flush=True)
    time.sleep(30)
"""


@pytest.mark.parametrize("track_args", ["", ", buffer=False, heartbeat=None"])
def test_sigterm_enable_then_track_ends_cancelled(client, dbname, track_args):
    code, out, err = run_python(ENABLED.replace("{track_args}", track_args), dbname, signal_after="ready",
                                signum=signal.SIGTERM)
    run_id = int(out.split()[0])
    assert code == 143, err
    assert "callback ran" in out and "Terminated" in err
    assert client.one("SELECT status::text, error, time_finished IS NOT NULL FROM pgtrack.runs WHERE id = %s", (run_id,)) == \
        ("CANCELLED", "Terminated: SIGTERM received", True)
    assert client.value("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (run_id,)) == 1


def test_a_previous_handler_that_exits_still_ends_the_run_as_sigterm(client, dbname):
    code, out, err = run_python(OWN_HANDLER, dbname, signal_after="ready", signum=signal.SIGTERM)
    assert code == 143, err
    assert client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (int(out.split()[0]),)) == "CANCELLED"


def test_sigterm_enable_outside_track_exits_143(tmp_path):
    done = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from pgtrack import sigterm
        sigterm.enable()
        print("ready", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert done.stdout.readline().strip() == "ready"
    done.send_signal(signal.SIGTERM)
    _, err = done.communicate(timeout=30)
    assert done.returncode == 143 and "Terminated" in err and "Traceback" not in err


# -- 3. the names of the released 0.1.4 -------------------------------------------------------------

def test_commands_setup_with_files_and_inline_scripts(client, tmp_path, capsys):
    import pgtrack.commands
    from pgtrack.commands import setup
    from pgtrack.commands.setup import setup as same

    assert pgtrack.commands.setup is setup is same  # sqltrack.commands.setup(client, scripts), as in 0.1.4
    v001 = tmp_path / "v001.sql"
    v001.write_text("BEGIN;\nALTER TABLE metrics ADD COLUMN train_top1 FLOAT;\nEND;\n")
    scripts = [v001, ("v002", "ALTER TABLE metrics ADD COLUMN val_top1 FLOAT;")]
    assert setup(client, scripts) == [("v001.sql", True), ("v002", True)]
    assert setup(client, scripts) == [("v001.sql", False), ("v002", False)]
    assert capsys.readouterr().out.splitlines() == ["(NEW) v001.sql", "(NEW) v002", "(OK) v001.sql", "(OK) v002"]
    run = sqltrack.Experiment(client, name="setup").get_run()
    run.add_metrics(step=1, train_top1=0.5, val_top1=0.25)
    run.flush()
    assert client.one("SELECT train_top1, val_top1 FROM pgtrack.metrics WHERE run_id = %s", (run.id,)) == (0.5, 0.25)


@pytest.mark.parametrize("bad, error", [
    (("v004", "SELECT 1", "extra"), sqltrack.SchemaValidationError),
    (("v004", 5), sqltrack.SchemaValidationError),
    (("base.sql", "SELECT 1"), sqltrack.SchemaValidationError),
    (("", "SELECT 1"), sqltrack.SchemaValidationError),
    ("no/such/file.sql", FileNotFoundError),
    (42, sqltrack.SchemaValidationError),
])
def test_commands_setup_checks_every_script_before_running_any(client, bad, error, capsys):
    from pgtrack.commands import setup

    applied = client.value("SELECT count(*) FROM pgtrack.applied_migrations")
    with pytest.raises(error):
        setup(client, [("v003", "ALTER TABLE metrics ADD COLUMN never FLOAT;"), bad])
    assert client.value("SELECT count(*) FROM pgtrack.applied_migrations") == applied
    assert "never" not in {r[0] for r in client.execute("SELECT name FROM pgtrack.metric_columns()")}
    assert capsys.readouterr().out == ""


def test_link_methods_and_functions_of_0_1_4(client):
    a, b = sqltrack.Experiment(client, name="a"), sqltrack.Experiment(client, name="b")
    a.add_link("follows", b.id)
    sqltrack.experiment_add_link(client, b.id, "precedes", a.id)
    assert sorted(client.execute("SELECT from_id, kind, to_id FROM pgtrack.experiment_relationships")) == \
        sorted([(a.id, "follows", b.id), (b.id, "precedes", a.id)])
    a.remove_link("follows", b.id)
    sqltrack.experiment_remove_link(client, b.id, "precedes", a.id)
    assert client.value("SELECT count(*) FROM pgtrack.experiment_relationships") == 0

    r1, r2 = a.get_run(), a.get_run()
    r1.add_link("resumes", r2.id)
    sqltrack.run_add_link(client, r2.id, "resumed_by", r1)
    assert sorted(client.execute("SELECT from_id, kind, to_id FROM pgtrack.run_relationships")) == \
        sorted([(r1.id, "resumes", r2.id), (r2.id, "resumed_by", r1.id)])
    r1.remove_link("resumes", r2.id)
    sqltrack.run_remove_link(client, r2.id, "resumed_by", r1.id)
    assert client.value("SELECT count(*) FROM pgtrack.run_relationships") == 0
    for name in ("experiment_add_link", "experiment_remove_link", "run_add_link", "run_remove_link"):
        assert name in sqltrack.__all__


def test_user_sql_on_the_link_tables_of_0_1_4(dbname):
    """SQL written for SQLTrack 0.1.4 reads and writes experiment_links and run_links by their plain names."""
    client = sqltrack.Client(dbname=dbname, schema="pgtrack")
    a, b = sqltrack.Experiment(client, name="a"), sqltrack.Experiment(client, name="b")
    r1, r2 = a.get_run(), b.get_run()
    with client.cursor() as cursor:
        cursor.execute("INSERT INTO experiment_links (from_id, kind, to_id) VALUES (%s, 'follows', %s)", (a.id, b.id))
        cursor.execute("INSERT INTO run_links (from_id, kind, to_id) VALUES (%s, 'resumes', %s)", (r1.id, r2.id))
    r2.add_link("resumed_by", r1.id)
    assert client.execute("SELECT from_id, kind, to_id FROM pgtrack.experiment_relationships") == [(a.id, "follows", b.id)]
    assert client.execute("SELECT r.id, l.kind FROM runs r JOIN run_links l ON l.from_id = r.id ORDER BY 1") == \
        [(r1.id, "resumes"), (r2.id, "resumed_by")]
    client.execute("DELETE FROM run_links WHERE kind = 'resumes'")
    assert client.execute("SELECT from_id, kind, to_id FROM pgtrack.run_relationships") == [(r2.id, "resumed_by", r1.id)]
    client.close()


def test_link_views_for_the_roles_and_teardown():
    db = create_database()
    names = {kind: f"links_{kind}_{os.getpid()}" for kind in ("reader", "writer")}
    try:
        with psycopg.connect(dbname=db, autocommit=True) as owner:
            owner.execute("SELECT pgtrack.grant_roles()")
            e = owner.execute("SELECT pgtrack.experiment('links')").fetchone()[0]
            runs = [owner.execute("SELECT pgtrack.create_run(%s)", (e,)).fetchone()[0] for _ in range(2)]
        with admin_connect() as admin:
            for kind, name in names.items():
                admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE pgtrack_{kind}')
        with psycopg.connect(dbname=db, user=names["writer"], autocommit=True) as writer:
            writer.execute("INSERT INTO pgtrack.run_links VALUES (%s, 'k', %s)", runs)
            writer.execute("INSERT INTO pgtrack.experiment_links VALUES (%s, 'self', %s)", (e, e))
        with psycopg.connect(dbname=db, user=names["reader"], autocommit=True) as reader:
            assert reader.execute("SELECT count(*) FROM pgtrack.run_links").fetchone()[0] == 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("DELETE FROM pgtrack.run_links")
        with psycopg.connect(dbname=db, autocommit=True) as owner:
            assert owner.execute("SELECT count(*) FROM pgtrack.run_relationships").fetchone()[0] == 1
            owner.execute("SELECT pgtrack.teardown(confirm => current_database())")  # the views go with the tables
            owner.execute("DROP EXTENSION pgtrack")
    finally:
        drop_database(db)
        drop_roles(*names.values())


def test_parsed_options_are_stored_as_a_runs_args(client):
    parsed = pgargs.convert_arguments({"--epochs": "3", "<path>": "p", "--amp": True})
    run = sqltrack.Experiment(client, name="args").get_run(args=parsed)
    assert client.value("SELECT args FROM pgtrack.runs WHERE id = %s", (run.id,)) == {"epochs": 3, "path": "p", "amp": True}
    run.add_args(pgargs.ParsedOptions(lr=0.5))
    assert client.value("SELECT args->'lr' FROM pgtrack.runs WHERE id = %s", (run.id,)) == 0.5
