"""load_schema(): a wallow TOML schema applied to an experiment."""
import pytest

import pgtrack

SCHEMA = """
[project]
name = "ml_sweep"
description = "a sweep"
float_precision = 6
artefacts_root = "{root}"
artefacts_layout = "{{model}}/{{uuid}}"

[identifying.model]
type = "string"
doc = "architecture"

[identifying.lr]
type = "float"

[identifying.seed]
type = "int"
default = 0

[annotating.status]
type = "string"

[annotating.val_loss]
type = "float"
indexed = true

[annotating.discovered_T]
type = "json"

[annotating.started_at]
type = "datetime"

[annotating.ckpt]
type = "path"
"""


def write(tmp_path, text, name="wallow.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def columns(client):
    return dict(client.execute("SELECT column_name::text, data_type::text FROM information_schema.columns "
                               "WHERE table_schema = 'pgtrack' AND table_name = 'runs'"))


def test_schema_applies_and_is_idempotent(client, tmp_path):
    path = write(tmp_path, SCHEMA.format(root=tmp_path / "data"))
    exp = pgtrack.load_schema(path, client)
    assert exp.name == "ml_sweep"
    assert [(f.name, f.type, f.default) for f in exp.identifying_fields()] == [
        ("lr", "float", None), ("model", "string", None), ("seed", "int", 0)]
    cols = columns(client)
    assert cols["val_loss"] == "double precision" and cols["discovered_t"] == "jsonb"
    assert cols["started_at"] == "timestamp with time zone" and cols["ckpt"] == "text" and "status" in cols
    assert client.value("SELECT count(*) FROM pg_indexes WHERE tablename = 'runs' AND indexdef LIKE '%(val_loss)%'") == 1
    before = (client.execute("SELECT * FROM pgtrack.identifying_fields ORDER BY name"), cols)
    again = pgtrack.load_schema(path, client)
    assert again.id == exp.id
    assert (client.execute("SELECT * FROM pgtrack.identifying_fields ORDER BY name"), columns(client)) == before

    res = exp.register({"model": "Res Net/18", "lr": 0.1}, {"status": "running", "discovered_T": [1, 2]}, on_duplicate="raise")
    assert res.run.status == "RUNNING" and res.run.discovered_T == [1, 2]
    path = res.run.artefacts_dir()
    assert path == (tmp_path / "data" / "Res_Net_18" / res.run.uuid).resolve()


@pytest.mark.parametrize("text, match", [
    ("[project]\nname = 'x'\nbogus = 1\n", "project: unknown key"),
    ("[project]\n", "project.name"),
    ("[project]\nname = 'x'\n[identifying.a]\ntype = 'json'\n", "identifying.a.type"),
    ("[project]\nname = 'x'\n[identifying.a]\ntype = 'int'\nprimary = true\n", "identifying.a: unknown key"),
    ("[project]\nname = 'x'\n[identifying.a]\ntype = 'int'\nnullable = true\n", "cannot be nullable"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\n[annotating.status]\ntype = 'int'\n", "built-in run column status"),
    ("[project]\nname = 'x'\nfloat_precision = true\n", "float_precision"),
    ("[project\nname = 'x'\n", "malformed TOML"),
])
def test_bad_schemas_name_the_file_and_key(client, tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(pgtrack.SchemaValidationError, match=match) as info:
        pgtrack.load_schema(path, client)
    assert str(path) in str(info.value)


def test_annotating_field_existing_with_another_type_is_refused(client, tmp_path):
    client.execute("SELECT pgtrack.add_run_column('host', 'bigint')")
    path = write(tmp_path, "[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\n[annotating.host]\ntype = 'string'\n")
    with pytest.raises(pgtrack.SchemaChangeError, match="host"):
        pgtrack.load_schema(path, client)
