"""wallow's load-time checks and messages (issue 19): a schema without identifying fields, an unknown
artefacts placeholder, an identifying field removed from the file, naive datetimes, and the phrases
wallow's tests match."""
import datetime as dt
import os
import subprocess
import sys

import pytest

import pgtrack


def write(tmp_path, text):
    path = tmp_path / "wallow.toml"
    path.write_text(text)
    return path


def test_a_schema_without_identifying_fields_is_refused(client, tmp_path):
    path = write(tmp_path, "[project]\nname = 'x'\n[annotating.host]\ntype = 'string'\n")
    with pytest.raises(pgtrack.SchemaValidationError, match="no identifying field"):
        pgtrack.load_schema(path, client)
    assert client.value("SELECT count(*) FROM pgtrack.experiments") == 0


def test_an_unknown_placeholder_is_refused_at_load(client, tmp_path):
    path = write(tmp_path, "[project]\nname = 'x'\nartefacts_layout = '{arch}/{uuid}'\n[identifying.k]\ntype = 'int'\n")
    with pytest.raises(pgtrack.SchemaValidationError, match="unknown placeholder"):
        pgtrack.load_schema(path, client)


@pytest.mark.parametrize("text, phrase", [
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'integer'\n", "unknown type"),
    ("[project]\nname = 'x'\nbogus = 1\n[identifying.k]\ntype = 'int'\n", "unknown keys"),
])
def test_wallows_phrases(client, tmp_path, text, phrase):
    with pytest.raises(pgtrack.SchemaValidationError, match=phrase):
        pgtrack.load_schema(write(tmp_path, text), client)


def test_a_removed_identifying_field_is_kept_and_said(client, dbname, tmp_path):
    path = write(tmp_path, "[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\n[identifying.s]\ntype = 'int'\ndefault = 0\n")
    pgtrack.load_schema(path, client)
    write(tmp_path, "[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\n")
    with pytest.warns(UserWarning, match="not dropped"):
        pgtrack.load_schema(path, client)
    done = subprocess.run([sys.executable, "-m", "pgtrack", "schema", "apply", str(path)], capture_output=True, text=True,
                          env=dict(os.environ, PGDATABASE=dbname), timeout=60)
    assert done.returncode == 5 and "NOT dropped" in done.stderr and "drop_identifying" in done.stderr
    assert [f.name for f in pgtrack.Experiment.get(client, "x").identifying_fields()] == ["k", "s"]


def test_naive_datetimes_are_refused(client, tmp_path):
    path = write(tmp_path, "[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\n[annotating.finished]\ntype = 'datetime'\n")
    exp = pgtrack.load_schema(path, client)
    with pytest.raises(pgtrack.SchemaValidationError, match="not coercible"):
        pgtrack.register(exp, {"k": 1}, {"finished": dt.datetime(2024, 1, 1)}, on_duplicate="raise")
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    run = pgtrack.register(exp, {"k": 1}, {"finished": aware}, on_duplicate="raise").run
    assert run.refresh().finished == aware
