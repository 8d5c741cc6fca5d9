"""wallow programs run on pgtrack with only their import changed (issue 34): ``from wallow import ...``
becomes ``from pgtrack import ...`` (and ``wallow.contrib.lifecycle`` becomes ``pgtrack.contrib.lifecycle``).

The programs are wallow's README's (its quick start, its ML sweep dispatcher and analysis) and the calls
its own tests make: ``load_schema(path)`` without a client, ``Store(path, schema=...)`` (a SQLite path or
URL opens the default database, ``pgtrack.Client()``: here PGDATABASE names the test's database),
``run_lifecycle(store, identifying=..., start_annotating=...)``, ``store.count()``/``store.all()``,
wallow's exception names, ``find_collisions_after_drop``, whole identifying floats read back as floats,
and the phrases wallow's tests match in error messages."""
import datetime as dt
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from conftest import create_database, drop_database

import pgtrack
import pgtrack.contrib.lifecycle
from pgtrack import F, Store, find, load_schema, register

# wallow's test fixture schema (its tests' conftest), as wallow's README writes such files
FIXTURE = """
[project]
name = "cells"

[identifying.cell_k]
type = "int"
[identifying.cell_sigma]
type = "float"
[identifying.generation]
type = "int"
[identifying.candidate_id]
type = "int"
[identifying.seed]
type = "int"
default = 0

[annotating.host]
type = "string"
indexed = true
[annotating.status]
type = "string"
indexed = true
[annotating.val_accuracy]
type = "float"
indexed = true
[annotating.val_loss]
type = "float"
[annotating.discovered_T]
type = "json"
"""

# the schema of wallow's lifecycle tests
LIFECYCLE = """
[project]
name = "lifecycle"
artefacts_root = "{root}"

[identifying.task]
type = "string"
[identifying.seed]
type = "int"
default = 0

[annotating.status]
type = "string"
[annotating.started_at]
type = "datetime"
[annotating.completed_at]
type = "datetime"
[annotating.wallclock_seconds]
type = "float"
[annotating.error_excerpt]
type = "string"
[annotating.host]
type = "string"
[annotating.final_acc]
type = "float"
"""


@pytest.fixture
def default_db(dbname, monkeypatch):
    """The test's database as the default one: what pgtrack.Client() with no arguments opens."""
    monkeypatch.setenv("PGDATABASE", dbname)
    return dbname


@pytest.fixture
def toml(tmp_path):
    def write(text, name="wallow.toml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write


@pytest.fixture
def store(default_db, toml):
    s = Store(":memory:", schema=load_schema(toml(FIXTURE)), check_schema=False)
    yield s
    s.close()


def ident(**changes):
    return {"cell_k": 4, "cell_sigma": 0.1, "generation": 0, "candidate_id": 1, **changes}


def experiments(conn):
    return conn.execute("SELECT name FROM pgtrack.experiments ORDER BY id").fetchall()


def run_script(tmp_path, dbname, name, code):
    script = tmp_path / name
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ, PGDATABASE=dbname), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- wallow's README programs, run as scripts ---------------------------------------------------------

QUICK_START_TOML = """
[project]
name = "demo"

[identifying.lr]
type = "float"

[identifying.seed]
type = "int"
default = 0

[annotating.status]
type = "string"
indexed = true

[annotating.val_loss]
type = "float"
indexed = true
"""

QUICK_START = """
from pgtrack import Store, load_schema, register

schema = load_schema("wallow.toml")
store  = Store("runs.db", schema=schema)

result = register(
    store,
    identifying={"lr": 1e-3},          # `seed` may be omitted: it has default = 0
    annotating={"status": "running"},
    on_duplicate="return_existing",
)
run = result.run                         # the Run; result.was_inserted etc carry context
print(result.was_inserted, run.lr, run.seed, run.status == "running")
"""


def test_the_quick_start_runs_and_a_second_run_finds_the_same_run(dbname, conn, tmp_path, toml):
    toml(QUICK_START_TOML)
    assert run_script(tmp_path, dbname, "run.py", QUICK_START).split() == ["True", "0.001", "0", "True"]
    assert run_script(tmp_path, dbname, "run.py", QUICK_START).split() == ["False", "0.001", "0", "True"]
    assert experiments(conn) == [("demo",)]  # the schema's name, not the file's
    assert conn.execute("SELECT count(*) FROM pgtrack.runs").fetchone()[0] == 1
    assert not (tmp_path / "runs.db").exists()  # nothing written where wallow's SQLite file would be


SWEEP_TOML = """
[project]
name = "ml_sweep"
artefacts_root = "artefacts"
artefacts_layout = "{architecture}/{uuid}"   # default would be "{uuid}"

[identifying.architecture]
type = "string"
[identifying.optimiser]
type = "string"
[identifying.learning_rate]
type = "float"
[identifying.batch_size]
type = "int"
[identifying.weight_decay]
type = "float"
default = 0.0
[identifying.num_epochs]
type = "int"
default = 10
[identifying.seed]
type = "int"
default = 0

[annotating.status]
type = "string"
indexed = true
[annotating.started_at]
type = "datetime"
[annotating.completed_at]
type = "datetime"
[annotating.wallclock_seconds]
type = "float"
[annotating.error_excerpt]
type = "string"
[annotating.best_checkpoint]
type = "path"
[annotating.val_loss]
type = "float"
indexed = true
[annotating.val_accuracy]
type = "float"
indexed = true
[annotating.training_curve]
type = "json"
"""

DISPATCHER = """
from pgtrack import Store, load_schema
from pgtrack.contrib.lifecycle import AlreadyCompleted, run_lifecycle

def build_grid():
    return [{"architecture": a, "optimiser": "adamw", "learning_rate": 1e-3, "batch_size": 128}
            for a in ("resnet18", "vit")]

def train(combo, artefacts_dir):
    ckpt = artefacts_dir / "best.pt"
    ckpt.write_text("weights")
    acc = 0.9 if combo["architecture"] == "vit" else 0.8
    return {"best_ckpt": str(ckpt), "val_loss": 1 - acc, "val_acc": acc, "curve": [0.5, 0.3]}

schema = load_schema("wallow.toml")
store  = Store("runs.db", schema=schema)

for combo in build_grid():        # list of dicts, full identifying tuple each
    try:
        with run_lifecycle(store, identifying=combo) as h:
            artefacts_dir = store.artefacts_dir(h.run, mkdir=True)
            result = train(combo, artefacts_dir)   # writes ckpts, logs, metrics.json
            h.finalise(annotating={
                "best_checkpoint": result["best_ckpt"],
                "val_loss": result["val_loss"],
                "val_accuracy": result["val_acc"],
                "training_curve": result["curve"],
            })
            print("trained", combo["architecture"])
    except AlreadyCompleted:
        print("skipped", combo["architecture"])
        continue   # this combo was already finished by a prior run
"""

ANALYSIS = """
from pgtrack import F, Store, load_schema, find

store = Store("runs.db", schema=load_schema("wallow.toml"))

# Best run overall.
best = (
    store.where(F("status") == "completed")
         .order_by(F("val_accuracy").desc(), F("val_loss").asc())
         .first()
)
print(store.artefacts_dir(best), "/", best.best_checkpoint)

# Direct lookup by identifying tuple, or by the auto-generated uuid.
specific = find(store, architecture="resnet18", optimiser="adamw",
                learning_rate=1e-3, batch_size=128, weight_decay=0.0,
                num_epochs=10, seed=0)
also = store.find_by_uuid(specific.uuid)
print(repr(specific.weight_decay), repr(specific.learning_rate), also.id == specific.id, store.count(), len(store.all()))
"""


def test_the_ml_sweep_recipe_dispatches_once_and_analyses(dbname, conn, tmp_path, toml):
    toml(SWEEP_TOML)
    assert run_script(tmp_path, dbname, "dispatch.py", DISPATCHER).split() == ["trained", "resnet18", "trained", "vit"]
    assert run_script(tmp_path, dbname, "dispatch.py", DISPATCHER).split() == ["skipped", "resnet18", "skipped", "vit"]
    best, floats = run_script(tmp_path, dbname, "analyse.py", ANALYSIS).splitlines()
    best_dir, checkpoint = best.split(" / ")
    assert Path(best_dir).parent == (tmp_path / "artefacts" / "vit").resolve() and Path(checkpoint).name == "best.pt"
    assert floats == "0.0 0.001 True 2 2"  # weight_decay reads 0.0 (a float field), not 0
    rows = conn.execute("SELECT status::text, started_at IS NOT NULL, completed_at IS NOT NULL, wallclock_seconds >= 0, "
                        "error_excerpt, training_curve FROM pgtrack.runs ORDER BY id").fetchall()
    assert rows == [("COMPLETED", True, True, True, None, [0.5, 0.3])] * 2
    assert experiments(conn) == [("ml_sweep",)]


# -- load_schema(path) and Store(path_or_url, schema=...) --------------------------------------------


def test_load_schema_without_a_client_reads_the_file_and_touches_no_database(conn, toml):
    schema = load_schema(toml(FIXTURE))
    assert isinstance(schema, pgtrack.Schema) and schema.name == "cells"
    assert (schema.float_precision, schema.artefacts_root, schema.artefacts_layout) == (12, None, "{uuid}")
    assert schema.identifying["seed"]["default"] == 0 and set(schema.annotating) >= {"host", "discovered_T"}
    assert schema.f.val_accuracy.name == "val_accuracy" and F("discovered_T", schema=schema).name == "discovered_T"
    assert {"cell_k", "val_loss", "status", "uuid"} <= set(dir(schema.f)) and dir(schema.f) == sorted(dir(schema.f))
    with pytest.raises(AttributeError, match="typo_name"):
        schema.f.typo_name  # noqa: B018  (the attribute access is the test)
    with pytest.raises(pgtrack.SchemaValidationError) as info:
        F("typo_name", schema=schema)
    assert info.value.field == "typo_name" and "cell_k" in info.value.valid_names
    assert experiments(conn) == []


@pytest.mark.parametrize("db", ["runs.db", Path("runs.db"), ":memory:", "sqlite:///x.db", "sqlite://", "sqlite+pysqlite:////tmp/y.db"])
def test_every_sqlite_path_opens_the_default_database_and_the_schemas_experiment(default_db, conn, toml, db):
    schema = load_schema(toml(FIXTURE))
    first = Store(db, schema=schema)
    again = Store("other.db", schema=schema, check_schema=False, journal_mode="DELETE", busy_timeout_ms=12345)
    try:
        assert first.experiment.id == again.experiment.id and first.schema is schema
        assert experiments(conn) == [("cells",)]
        assert first.client.value("SELECT current_database()") == default_db
        register(first, identifying=ident(), annotating={"host": "h1"}, on_duplicate="raise")
        assert again.count() == 1 and find(again, **ident()).host == "h1"
    finally:
        first.close()
        again.close()


def test_a_postgresql_url_opens_that_database(dbname, conn, toml, monkeypatch):
    monkeypatch.setenv("PGDATABASE", "postgres")  # not the default: the URL decides
    schema = load_schema(toml(FIXTURE))
    for url in (f"postgresql:///{dbname}", f"postgresql+psycopg2:///{dbname}", f"postgres:///{dbname}"):
        store = Store(url, schema=schema)
        assert store.client.value("SELECT current_database()") == dbname
        store.close()
    assert experiments(conn) == [("cells",)]


def test_pgtracks_own_forms_still_work(client, toml):
    experiment = load_schema(toml(FIXTURE), client)
    assert isinstance(experiment, pgtrack.Experiment) and experiment.name == "cells"
    store = Store(experiment)
    assert store.experiment is experiment and store.schema is None and store.count() == 0
    assert Store("runs.db", schema=experiment).experiment is experiment  # wallow's form around pgtrack's object
    assert Store(experiment=experiment).experiment is experiment
    with pytest.raises(TypeError, match="not both"):
        Store("runs.db", experiment=experiment)
    with pytest.raises(TypeError, match="no schema= or client="):
        Store(experiment, client=client)
    store.close()  # the experiment's client stays open
    assert client.value("SELECT 1") == 1


def test_wallows_keyword_names(default_db, conn, toml):
    store = Store(db_path="runs.db", schema=load_schema(toml(FIXTURE)), check_schema=True)
    assert store.experiment.name == "cells" and experiments(conn) == [("cells",)]
    store.close()


@pytest.mark.parametrize("args, kwargs, error, phrase", [
    (("mysql://u@h/db",), {}, ValueError, "not a mysql:// URL"),
    (("",), {}, ValueError, "empty string"),
    ((42,), {}, TypeError, "path or URL"),
    (("runs.db",), {"schema": None}, TypeError, "schema="),
    (("runs.db",), {"check_schema": "yes"}, TypeError, "check_schema"),
    (("runs.db",), {"busy_timeout_ms": "5000"}, TypeError, "busy_timeout_ms"),
    (("runs.db",), {"journal_mode": 1}, TypeError, "journal_mode"),
    (("runs.db",), {"client": "dbname=x"}, TypeError, "pgtrack.Client"),
])
def test_a_store_on_bad_input_is_refused_and_creates_nothing(default_db, conn, toml, args, kwargs, error, phrase):
    kwargs = {"schema": load_schema(toml(FIXTURE)), **kwargs}
    with pytest.raises(error, match=phrase):
        Store(*args, **kwargs)
    assert experiments(conn) == []


def test_a_schema_passed_first_says_how_to_call_it(default_db, conn, toml):
    with pytest.raises(TypeError, match=r"Store\(\"runs.db\", schema=schema\)"):
        Store(load_schema(toml(FIXTURE)))
    assert experiments(conn) == []


def test_a_bad_schema_file_creates_nothing(default_db, conn, toml):
    with pytest.raises(pgtrack.SchemaParseError, match="unknown type"):
        Store("runs.db", schema=load_schema(toml(FIXTURE.replace('type = "json"', 'type = "jsonb"'))))
    assert experiments(conn) == []


@pytest.fixture
def database_at_0_2_0():
    name = create_database(setup=False)
    with psycopg.connect(dbname=name, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgtrack VERSION '0.2.0'")
        conn.execute("SELECT pgtrack.setup()")
    yield name
    drop_database(name)


def test_check_schema_raises_pending_migration_for_an_older_pgtrack(database_at_0_2_0, toml, monkeypatch):
    monkeypatch.setenv("PGDATABASE", database_at_0_2_0)
    with pytest.raises(pgtrack.PendingMigrationError) as info:
        Store("runs.db", schema=load_schema(toml(FIXTURE)))
    assert (info.value.current_rev, info.value.head_rev) == ("0.2.0", pgtrack.__version__)
    assert "ALTER EXTENSION pgtrack UPDATE" in info.value.hint and isinstance(info.value, pgtrack.WallowError)
    with psycopg.connect(dbname=database_at_0_2_0) as conn:
        assert experiments(conn) == []  # refused before the schema was applied


def test_check_schema_raises_pending_migration_without_pgtrack(toml, monkeypatch):
    name = create_database(setup=False)
    try:
        monkeypatch.setenv("PGDATABASE", name)
        with pytest.raises(pgtrack.PendingMigrationError, match="not set up") as info:
            Store("runs.db", schema=load_schema(toml(FIXTURE)))
        assert info.value.current_rev is None and "pgtrack setup" in info.value.hint
    finally:
        drop_database(name)


def test_check_schema_passes_on_a_current_database(store):
    assert store.check_schema() is None


# -- run_lifecycle with wallow's signature and handle ------------------------------------------------


@pytest.fixture
def lc_store(default_db, toml, tmp_path):
    s = Store(":memory:", schema=load_schema(toml(LIFECYCLE.format(root=tmp_path / "data"))), check_schema=False)
    yield s
    s.close()


def test_lifecycle_happy_path_with_wallows_handle(lc_store):
    with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}) as h:
        assert h.uuid and h.run.status == "running" and h.store is lc_store and h.identifying == {"task": "a"}
        assert h.started_at.tzinfo is not None and h.elapsed() >= 0
        assert lc_store.artefacts_dir(h.run).name == h.uuid
        h.finalise({"final_acc": 0.95})
    run = pgtrack.find(lc_store, task="a")
    assert (run.status, run.final_acc) == ("completed", 0.95)
    assert run.started_at <= run.completed_at and run.wallclock_seconds >= 0 and run.error_excerpt is None
    assert abs(run.started_at - h.started_at) < dt.timedelta(seconds=1)


def test_lifecycle_start_annotating_is_visible_in_the_body_and_kept(lc_store):
    with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}, start_annotating={"host": "test-host-1"}) as h:
        assert h.run.host == "test-host-1"
    assert pgtrack.find(lc_store, task="a").host == "test-host-1"


def test_lifecycle_failure_writes_wallows_excerpt_and_a_rerun_clears_it(lc_store):
    with pytest.raises(RuntimeError, match="boom"):
        with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}):
            raise RuntimeError("boom")
    run = pgtrack.find(lc_store, task="a")
    assert run.status == "failed" and run.error_excerpt == "RuntimeError: boom" and run.completed_at is not None
    with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}) as h:
        pass
    run = h.run.refresh()
    assert run.status == "completed" and run.error_excerpt is None and run.uuid == h.uuid


def test_lifecycle_excerpt_is_cut_to_1000_characters(lc_store):
    with pytest.raises(ValueError):
        with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}):
            raise ValueError("x" * 2000)
    excerpt = pgtrack.find(lc_store, task="a").error_excerpt
    assert len(excerpt) == 1000 and excerpt.startswith("ValueError: xxx") and excerpt.endswith("...")


def test_lifecycle_completed_and_force_as_in_wallow(lc_store):
    with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}) as h:
        h.finalise({"final_acc": 0.5})
    ran = []
    with pytest.raises(pgtrack.contrib.lifecycle.AlreadyCompleted) as info:
        with pgtrack.contrib.lifecycle.run_lifecycle(lc_store, identifying={"task": "a"}):
            ran.append(1)
    assert not ran and info.value.run.uuid == h.uuid
    with pgtrack.run_lifecycle(lc_store, identifying={"task": "a"}, force=True) as again:
        again.finalise(annotating={"final_acc": 0.99})
    assert again.uuid == h.uuid and pgtrack.find(lc_store, task="a").final_acc == 0.99


def test_lifecycle_refuses_both_names_of_annotating(lc_store):
    with pytest.raises(TypeError, match="not both"):
        with pgtrack.run_lifecycle(lc_store, {"task": "a"}, {"host": "x"}, start_annotating={"host": "y"}):
            pass
    assert lc_store.count() == 0


def test_the_contrib_path_is_pgtracks_lifecycle():
    import pgtrack.contrib.lifecycle as contrib

    assert contrib.run_lifecycle is pgtrack.run_lifecycle and contrib.WorkerHandle is pgtrack.LifecycleHandle


# -- names wallow code imports --------------------------------------------------------------------------


def seed_dsl(store):
    """wallow's DSL test data: 4 runs."""
    for k, sigma, acc, status, host in [(4, 0.1, 0.90, "completed", "h1"), (4, 0.2, 0.85, "completed", "h2"),
                                        (8, 0.1, 0.70, "running", "h1"), (8, 0.2, 0.95, "completed", "h3")]:
        register(store, identifying=ident(cell_k=k, cell_sigma=sigma, candidate_id=k * 100 + int(sigma * 10)),
                 annotating={"val_accuracy": acc, "status": status, "host": host,
                             "discovered_T": {"T_1100": acc, "nested": {"x": k}}}, on_duplicate="raise")


def test_store_count_and_all(store):
    assert store.count() == 0 and store.all() == []
    seed_dsl(store)
    assert store.count() == 4 and store.where(F("status") == "running").count() == 1
    runs = store.all()
    assert len(runs) == 4 and [r.val_accuracy for r in runs] == [0.90, 0.85, 0.70, 0.95]  # by id
    other = pgtrack.Experiment(store.client, name="other")  # another experiment's runs are not the store's
    other.declare_identifying("k", "int")
    other.register({"k": 1}, on_duplicate="raise")
    assert store.count() == 4


def test_expr_and_order_clause_are_top_level(store):
    seed_dsl(store)
    assert F("cell_k", schema=store).name == "cell_k" and store.f.val_accuracy.name == "val_accuracy"
    with pytest.raises(pgtrack.SchemaValidationError, match="unknown field"):
        F("nope", schema=store)
    assert isinstance(F("cell_k") == 4, pgtrack.Expr) and isinstance(F("val_accuracy").desc(), pgtrack.OrderClause)
    clause = pgtrack.OrderClause(F("val_accuracy"), True)
    assert [r.val_accuracy for r in store.where().order_by(clause).all()] == [0.95, 0.90, 0.85, 0.70]


def test_wallows_exception_names_catch_what_pgtrack_raises(store, toml):
    assert pgtrack.WallowError is pgtrack.PgtrackError
    assert issubclass(pgtrack.SchemaParseError, pgtrack.SchemaValidationError)
    register(store, identifying=ident(), on_duplicate="raise")
    with pytest.raises(pgtrack.WallowError):
        register(store, identifying=ident(), on_duplicate="raise")
    for bad in ("[project\nname = 'x'\n", "[project]\nname = 'x'\nbogus = 1\n[identifying.k]\ntype = 'int'\n"):
        with pytest.raises(pgtrack.SchemaParseError) as info:
            load_schema(toml(bad, "bad.toml"))
        assert info.value.sqlstate == "PT003"
    error = pgtrack.PendingMigrationError("abc", "def")
    assert (error.current_rev, error.head_rev) == ("abc", "def") and "abc" in str(error) and isinstance(error, pgtrack.WallowError)


def test_find_collisions_after_drop_with_wallows_fields(store):
    first = register(store, identifying=ident(), on_duplicate="raise").run
    assert pgtrack.find_collisions_after_drop(store, "seed") == []
    second = register(store, identifying=ident(seed=1), on_duplicate="raise").run
    register(store, identifying=ident(cell_k=8), on_duplicate="raise")
    groups = pgtrack.find_collisions_after_drop(store, "seed")
    assert len(groups) == 1 and groups[0].row_ids == [first.id, second.id]
    assert groups[0].field_values == {"cell_k": 4, "cell_sigma": 0.1, "generation": 0, "candidate_id": 1}
    assert isinstance(groups[0], pgtrack.CollisionGroup) and groups[0].identity is groups[0].field_values
    with pytest.raises(pgtrack.WallowError, match="not an identifying"):
        pgtrack.find_collisions_after_drop(store, "status")


# -- a whole float stays a float --------------------------------------------------------------------------


def exact(value, expected):
    return type(value) is type(expected) and value == expected


def test_whole_identifying_floats_come_back_as_floats(store):
    result = register(store, identifying=ident(cell_sigma=1.0), on_duplicate="raise")
    register(store, identifying=ident(cell_sigma=2.0, seed=1), on_duplicate="raise")
    assert exact(result.run.cell_sigma, 1.0) and exact(result.run.cell_k, 4) and exact(result.run.seed, 0)
    found = find(store, **ident(cell_sigma=1))
    assert exact(found.cell_sigma, 1.0) and exact(found["cell_sigma"], 1.0) and exact(found.identity["cell_sigma"], 1.0)
    assert exact(found.identity["cell_k"], 4) and exact(found.fields["generation"], 0)
    rows = store.where(F("cell_sigma") >= 1.0).order_by(F("cell_sigma")).all()
    assert [r.cell_sigma for r in rows] == [1.0, 2.0] and all(exact(r.cell_sigma, float(r.cell_sigma)) for r in rows)
    assert all(exact(r.identity["cell_sigma"], float(r.cell_sigma)) and exact(r.cell_k, 4) for r in store.all())
    assert exact(store.find_by_uuid(found.uuid).cell_sigma, 1.0)
    assert pgtrack.find_collisions_after_drop(store, "seed") == []  # 1.0 and 2.0 differ: no group
    register(store, identifying=ident(cell_sigma=1.0, seed=5), on_duplicate="raise")
    (group,) = pgtrack.find_collisions_after_drop(store, "seed")
    assert exact(group.field_values["cell_sigma"], 1.0) and exact(group.field_values["cell_k"], 4)


def test_a_whole_float_default_is_a_float(client, toml):
    path = toml("[project]\nname = 'd'\n[identifying.wd]\ntype = 'float'\ndefault = 0\n[identifying.k]\ntype = 'int'\n")
    schema = load_schema(path)
    assert exact(schema.identifying["wd"]["default"], 0.0)
    experiment = schema.apply(client)
    assert [(f.name, f.default) for f in experiment.identifying_fields()] == [("k", None), ("wd", 0.0)]
    assert exact(experiment.identifying_fields()[1].default, 0.0)
    run = register(experiment, identifying={"k": 1}, on_duplicate="raise").run
    assert exact(run.wd, 0.0) and exact(run.k, 1)


# -- wallow's phrases in pgtrack's messages ----------------------------------------------------------------


@pytest.mark.parametrize("text, phrase", [
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'json'\n", "not allowed"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'datetime'\n", "not allowed for identifying fields"),
    ("[project]\nname = 'x'\n[annotating.k]\ntype = 'int'\n", "at least one identifying"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\ndefault = 'zero'\n", "not coercible"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\ndefault = true\n", "bool, not int"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'float'\ndefault = false\n", "bool, not float"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\n[annotating.a]\ntype = 'bool'\ndefault = 1\n", "not coercible"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'int'\nnullable = true\n", "NOT NULL"),
    ("[project]\nname = 'x'\n[identifying.k]\ntype = 'uuid'\n", "unknown type"),
])
def test_schema_file_mistakes_carry_wallows_phrase(conn, toml, text, phrase):
    with pytest.raises(pgtrack.SchemaParseError, match=phrase) as info:
        load_schema(toml(text))
    assert type(info.value) is pgtrack.SchemaParseError and info.value.sqlstate == "PT003"


@pytest.mark.parametrize("changes, phrase", [
    ({"cell_k": "four"}, "expected int"),
    ({"cell_k": True}, "expected int, got bool"),
    ({"cell_k": 1.5}, "expected int, got float"),
    ({"cell_sigma": "x"}, "expected float, got str"),
    ({"cell_k": None}, "not allowed"),
    ({"cell_k": None}, "NOT NULL"),
    ({"cell_sigma": math.nan}, "NaN"),
])
def test_register_mistakes_carry_wallows_phrase(store, changes, phrase):
    with pytest.raises(pgtrack.SchemaValidationError, match=phrase) as info:
        register(store, identifying=ident(**changes), on_duplicate="raise")
    assert type(info.value) is pgtrack.SchemaValidationError and info.value.sqlstate == "PT003"
    with pytest.raises(pgtrack.SchemaValidationError, match=phrase):
        find(store, **ident(**changes))
    assert store.count() == 0


def test_a_bool_field_given_an_int_says_so(client):
    experiment = pgtrack.Experiment(client, name="b")
    experiment.declare_identifying("flag", "bool")
    with pytest.raises(pgtrack.SchemaValidationError, match="expected bool, got int"):
        register(experiment, identifying={"flag": 1}, on_duplicate="raise")
    with pytest.raises(pgtrack.SchemaValidationError, match="not allowed for identifying fields"):
        experiment.declare_identifying("when", "datetime")
    assert [f.name for f in experiment.identifying_fields()] == ["flag"]


def test_wallows_created_at_and_updated_at(client):
    """wallow's built-in run columns by their names there: run.created_at and F("updated_at")."""
    exp = pgtrack.Experiment(client, name="stamps")
    exp.declare_identifying("k", "int")
    run = pgtrack.register(exp, {"k": 1}, on_duplicate="raise").run
    run.set_updated()
    run.refresh()
    assert run.created_at == run.time_created and run.updated_at == run.time_updated is not None
    assert [r.id for r in exp.where(pgtrack.F("updated_at") >= run.created_at).order_by(pgtrack.F("created_at")).all()] == [run.id]
