"""wallow's query DSL on pgtrack (issue 19): every operator, ordering with NULLs, paging, the query
methods, eager validation, float normalisation, injection attempts through names and values, and
wallow's README examples with only the import and the connection changed."""
import datetime as dt

import pytest

import pgtrack
from pgtrack import F

SCHEMA = """
[project]
name = "ml_sweep"
artefacts_root = "{root}"
artefacts_layout = "{{architecture}}/{{uuid}}"

[identifying.architecture]
type = "string"
[identifying.optimiser]
type = "string"
[identifying.learning_rate]
type = "float"
[identifying.seed]
type = "int"
default = 0

[annotating.status]
type = "string"
indexed = true
[annotating.host]
type = "string"
[annotating.val_loss]
type = "float"
[annotating.val_accuracy]
type = "float"
[annotating.structural_traj]
type = "json"
[annotating.finished_at]
type = "datetime"
"""


@pytest.fixture
def sweep(client, tmp_path):
    path = tmp_path / "wallow.toml"
    path.write_text(SCHEMA.format(root=tmp_path / "artefacts"))
    schema = pgtrack.load_schema(path, client)
    store = pgtrack.Store(schema)
    rows = [
        ("resnet", "adamw", 0.1, 0, "completed", "gpu-1", 0.30, 0.90, {"T_1100": 0.90, "nested": {"x": 8}}),
        ("resnet", "adamw", 0.01, 0, "completed", "gpu-2", 0.20, 0.95, {"T_1100": 0.95, "nested": {"x": 8}}),
        ("resnet", "sgd", 0.1 + 0.2, 1, "running", "cpu-1", None, None, None),
        ("vit", "adamw", 0.001, 0, "failed", "GPU-3", 0.50, 0.70, {"T_1100": 0.70, "nested": {"x": 4}}),
        ("vit", "sgd", 0.1, 2, None, "node_%", 0.40, None, None),
    ]
    for arch, opt, lr, seed, status, host, loss, acc, traj in rows:
        annotating = {"host": host, "val_loss": loss, "val_accuracy": acc, "structural_traj": traj}
        if status:
            annotating["status"] = status
        pgtrack.register(store, {"architecture": arch, "optimiser": opt, "learning_rate": lr, "seed": seed},
                         annotating, on_duplicate="raise")
    return schema, store


def count(store, *exprs):
    return store.where(*exprs).count()


def test_operators(sweep):
    schema, store = sweep
    assert count(store, F("optimiser") == "adamw") == 3
    assert count(store, F("optimiser") != "adamw") == 2
    assert count(store, F("seed") > 0) == 2 and count(store, F("seed") >= 0) == 5
    assert count(store, F("seed") < 1) == 3 and count(store, F("seed") <= 1) == 4
    assert count(store, F("learning_rate") == 0.3) == 1  # stored from 0.1 + 0.2: one key
    assert count(store, F("learning_rate").in_([0.1 + 0.2, 999.0])) == 1
    assert count(store, F("learning_rate").in_(x for x in [0.1])) == 2  # any iterable, generators too
    assert count(store, F("learning_rate").not_in([0.1])) == 3
    assert count(store, F("seed").in_([])) == 0 and count(store, F("seed").not_in([])) == 5
    assert count(store, F("status").contains("plet")) == 2
    assert count(store, F("host").startswith("gpu")) == 2  # case-sensitive on PostgreSQL (SQLite's LIKE is not)
    assert count(store, F("host").endswith("1")) == 2
    assert count(store, F("host").contains("%")) == 1  # % and _ are literal, never wildcards
    assert count(store, F("val_accuracy").is_null()) == 2 and count(store, F("val_accuracy").is_not_null()) == 3
    assert count(store, F("val_accuracy") == None) == 2 and count(store, F("val_accuracy") != None) == 3  # noqa: E711
    assert count(store, F("status").is_null()) == 0 and count(store, F("status") == "pending") == 1  # never NULL here
    assert count(store, F("status") == "done") == 2  # pgtrack's statuses in wallow's words
    assert count(store, F("structural_traj").json_path("T_1100") > 0.85) == 2
    assert count(store, F("structural_traj").json_path("nested.x") == 8) == 2
    assert count(store, F("structural_traj").json_path("nested.x").is_not_null()) == 3
    assert count(store, (F("optimiser") == "adamw") & (F("val_accuracy") > 0.85)) == 2
    assert count(store, (F("architecture") == "vit") | (F("seed") == 1)) == 3
    assert count(store, ~(F("optimiser") == "adamw")) == 2
    assert count(store, F("Val_Loss") < 0.35) == 2  # wallow's upper-case names reach their lower-case column
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert count(store, F("finished_at").is_null(), F("finished_at") < dt.datetime.now(dt.timezone.utc)) == 0
    assert count(store, F("time_created") > aware) == 5


def test_type_errors_and_names(sweep):
    schema, store = sweep
    with pytest.raises(pgtrack.SchemaValidationError, match="not coercible"):
        count(store, F("seed") > 2.5)  # an int field takes ints only, as in wallow
    with pytest.raises(pgtrack.SchemaValidationError, match="cannot compare string"):
        count(store, F("status") == 4)
    with pytest.raises(pgtrack.SchemaValidationError, match="not valid on int"):
        count(store, F("seed").contains("1"))
    with pytest.raises(pgtrack.SchemaValidationError, match="non-JSON"):
        count(store, F("seed").json_path("a") == 1)
    with pytest.raises(pgtrack.SchemaValidationError, match="timezone-aware"):
        count(store, F("finished_at") < dt.datetime(2024, 1, 1))
    expr = F("typo_name") == 4  # builds; fails when it runs
    with pytest.raises(pgtrack.SchemaValidationError) as caught:
        store.where(expr).count()
    assert caught.value.field == "typo_name" and "seed" in caught.value.valid_names
    with pytest.raises(pgtrack.SchemaValidationError) as caught:
        F("typo_name", schema=schema)
    assert caught.value.field == "typo_name"
    assert F("seed", schema=schema).name == "seed"
    assert schema.f.val_loss.name == "val_loss" and "learning_rate" in dir(schema.f)
    with pytest.raises(AttributeError):
        schema.f.typo_name
    with pytest.raises(AttributeError):
        schema.f._private
    with pytest.raises(TypeError):
        {F("seed"): 1}  # a Field is not hashable: == builds an expression
    with pytest.raises(TypeError, match="Field or OrderClause"):
        store.where().order_by("val_accuracy")
    with pytest.raises(TypeError):
        bool(F("seed") == 1)


def test_ordering_paging_and_methods(sweep):
    schema, store = sweep
    accuracies = [r.val_accuracy for r in store.where().order_by(F("val_accuracy").desc()).all()]
    assert accuracies == [0.95, 0.90, 0.70, None, None]  # NULLs last descending
    assert [r.val_accuracy for r in store.where().order_by(F("val_accuracy")).all()][:2] == [None, None]  # first ascending
    ordered = store.where().order_by(F("architecture").asc(), F("seed").desc())
    assert [(r.architecture, r.seed) for r in ordered.all()] == \
        [("resnet", 1), ("resnet", 0), ("resnet", 0), ("vit", 2), ("vit", 0)]
    page = ordered.limit(2).offset(1)
    assert [(r.architecture, r.seed) for r in page.all()] == [("resnet", 0), ("resnet", 0)]
    assert page.count() == 5  # count ignores limit and offset
    assert store.where(F("seed") == 2).one().architecture == "vit"
    with pytest.raises(pgtrack.SchemaValidationError, match="no rows"):
        store.where(F("seed") == 99).one()
    with pytest.raises(pgtrack.SchemaValidationError, match="found 2 rows"):
        store.where(F("learning_rate") == 0.1).one()
    assert store.where(F("seed") == 99).first() is None and store.where(F("seed") == 2).first().seed == 2
    assert store.where(F("seed") == 2).exists() and not store.where(F("seed") == 99).exists()
    assert sorted(r.seed for r in store.where(F("architecture") == "resnet")) == [0, 0, 1]
    run = store.where(F("seed") == 1).one()
    assert run.status == "running" and run.learning_rate == 0.3
    query = store.where(F("seed") == 0)
    assert query.where(F("optimiser") == "sgd").count() == 0 and query.count() == 3  # immutable


def test_injection_through_names_and_values(sweep, client):
    schema, store = sweep
    hostile = ["x'); DROP TABLE pgtrack.runs; --", 'x"; DROP TABLE pgtrack.runs; --', "$$; SELECT 1; $$"]
    for text in hostile:
        assert count(store, F("host") == text) == 0
        assert count(store, F("host").contains(text)) == 0
        assert count(store, F("structural_traj").json_path(text) == text) == 0
        with pytest.raises(pgtrack.SchemaValidationError):
            count(store, F(text) == 1)
    assert client.value("SELECT count(*) FROM pgtrack.runs") == 5


def test_wallows_readme_examples(sweep, client):
    """wallow README, "DSL: F, Query" and "Store", with only the import changed."""
    schema, store = sweep
    q = (
        store.where((F("optimiser") == "adamw") & (F("status") == "completed"))
             .order_by(F("val_accuracy").desc(), F("val_loss").asc())
             .limit(10)
    )
    top = q.all()
    assert [r.val_accuracy for r in top] == [0.95, 0.90]
    top = store.where(schema.f.status == "completed").all()
    assert len(top) == 2
    run = top[0]
    assert store.find_by_uuid(run.uuid).id == run.id and store.find_by_uuid("nonexistent1") is None
    assert store.artefacts_dir(run).parts[-2:] == ("resnet", run.uuid)
    logs = store.artefacts_dir(run, "logs", mkdir=True)
    assert logs.is_dir() and logs.name == "logs"
    stamp = pgtrack.heartbeat(store, identifying={"architecture": "resnet", "optimiser": "sgd", "learning_rate": 0.3,
                                                  "seed": 1})
    assert isinstance(stamp, dt.datetime)
    with pytest.raises(pgtrack.NotFoundError):
        pgtrack.heartbeat(store, identifying={"architecture": "none", "optimiser": "x", "learning_rate": 1.0})
