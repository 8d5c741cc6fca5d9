"""wallow 0.2.1's registry tests (../shared/reference/wallow-0.2.1-behaviour.md §3) that apply, on the
Python API, fixed where wallow was wrong: one winner per claim, ints normalised for float fields,
-0.0 = 0.0, NaN/inf refused as identity, a COMPLETED run never claimed."""
import datetime as dt
import math

import pytest

import pgtrack
from parallel import run_parallel

HOUR = dt.timedelta(hours=1)
IDENT = {"cell_k": 4, "cell_sigma": 0.1, "generation": 0, "candidate_id": 1}


@pytest.fixture
def exp(client):
    e = pgtrack.Experiment(client, name="wallow")
    for name, kind in (("cell_k", "int"), ("cell_sigma", "float"), ("generation", "int"), ("candidate_id", "int")):
        e.declare_identifying(name, kind)
    e.declare_identifying("seed", "int", default=0)
    for column, kind in (("host", "text"), ("val_accuracy", "double precision"), ("discovered_t", "jsonb")):
        client.execute("SELECT pgtrack.add_run_column(%s, %s)", (column, kind))
    return e


def flags(result):
    return result.was_inserted, result.was_updated, result.was_skipped


def test_new_register_inserts_with_fields(exp):
    res = pgtrack.register(exp, IDENT, {"status": "running"}, on_duplicate="raise")
    assert flags(res) == (True, False, False) and res.run.id
    assert res.run.cell_k == 4 and res.run.status == "RUNNING" and res.run.seed == 0
    assert res.run.val_accuracy is None and res.run.host is None


def test_find(exp):
    assert pgtrack.find(exp, **IDENT) is None
    run = exp.register(IDENT, on_duplicate="raise").run
    assert pgtrack.find(exp, **IDENT) == run and exp.find(**IDENT, seed=0) == run


def test_policies_on_a_duplicate(exp):
    first = exp.register(IDENT, {"status": "running", "host": "h1"}, on_duplicate="raise").run
    with pytest.raises(pgtrack.DuplicateRunError) as info:
        exp.register(IDENT, on_duplicate="raise")
    assert info.value.existing_run_id == first.id and info.value.run == first and info.value.run.cell_k == 4
    same = exp.register(IDENT, {"status": "failed"}, on_duplicate="return_existing")
    assert flags(same) == (False, False, False) and same.run == first and same.run.status == "RUNNING"
    skipped = exp.register(IDENT, on_duplicate="skip")
    assert skipped.run is None and flags(skipped) == (False, False, True)
    over = exp.register(IDENT, {"status": "completed", "val_accuracy": 0.9}, on_duplicate="overwrite")
    assert flags(over) == (False, True, False) and over.run == first
    assert over.run.status == "COMPLETED" and over.run.val_accuracy == 0.9 and over.run.host == "h1"
    assert over.run.uuid == first.uuid


@pytest.mark.parametrize("identifying, annotating, match", [
    ({k: v for k, v in IDENT.items() if k != "cell_k"}, None, "missing identifying field .?cell_k"),
    ({**IDENT, "bogus": 1}, None, "unknown identifying field bogus"),
    (IDENT, {"nope": 1}, "unknown annotating field nope"),
    ({**IDENT, "cell_k": "four"}, None, "cell_k.? expects a JSON integer"),
    ({**IDENT, "cell_k": True}, None, "cell_k.? expects a JSON integer"),
    ({**IDENT, "cell_sigma": math.nan}, None, "finite"),
    ({**IDENT, "cell_sigma": math.inf}, None, "finite"),
    (IDENT, {"uuid": "x"}, "unknown annotating field uuid"),
])
def test_validation_errors(exp, identifying, annotating, match):
    with pytest.raises(pgtrack.SchemaValidationError, match=match):
        exp.register(identifying, annotating, on_duplicate="raise")
    assert exp.client.value("SELECT count(*) FROM pgtrack.runs") == 0


def test_bad_policy_and_stale_after(exp):
    with pytest.raises(pgtrack.SchemaValidationError, match="on_duplicate"):
        exp.register(IDENT, on_duplicate="bogus")
    with pytest.raises(pgtrack.SchemaValidationError, match="stale_after"):
        exp.register(IDENT, on_duplicate="claim_if_stale")
    with pytest.raises(pgtrack.SchemaValidationError, match="timedelta"):
        exp.register(IDENT, on_duplicate="claim_if_stale", stale_after=60)
    with pytest.raises(pgtrack.SchemaValidationError, match="positive"):
        exp.register(IDENT, on_duplicate="claim_if_stale", stale_after=dt.timedelta(0))


@pytest.mark.parametrize("first, second", [
    (0.1 + 0.2, 0.3), (3, 3.0), (12345678901234567, 12345678901234567.0), (0.0, -0.0), (1e-3, 0.001000000000000000001)])
def test_float_normalisation_makes_one_key(exp, first, second):
    run = exp.register({**IDENT, "cell_sigma": first}, on_duplicate="raise").run
    again = exp.register({**IDENT, "cell_sigma": second}, on_duplicate="return_existing")
    assert not again.was_inserted and again.run == run


def test_annotating_floats_are_stored_exactly_and_upper_case_names_work(exp):
    run = exp.register(IDENT, {"val_accuracy": 0.1 + 0.2, "discovered_T": {"T_1100": 0.5}}, on_duplicate="raise").run
    assert run.val_accuracy == 0.30000000000000004 and run.discovered_T == {"T_1100": 0.5}


def test_custom_float_precision(client):
    e = pgtrack.Experiment(client, name="fp3", float_precision=3)
    e.declare_identifying("x", "float")
    a = e.register({"x": 0.1234}, on_duplicate="raise").run
    assert e.register({"x": 0.1239}, on_duplicate="return_existing").was_inserted
    assert e.register({"x": 0.123}, on_duplicate="return_existing").run == a
    with pytest.raises(pgtrack.SchemaChangeError):
        pgtrack.Experiment(client, name="fp3", float_precision=2)


def test_claim_if_stale(exp, client):
    new = exp.register(IDENT, {"host": "w1"}, on_duplicate="claim_if_stale", stale_after=HOUR)
    assert flags(new) == (True, False, False) and new.run.status == "RUNNING" and new.run.attempt == 1
    fresh = exp.register(IDENT, {"host": "w2"}, on_duplicate="claim_if_stale", stale_after=HOUR)
    assert flags(fresh) == (False, False, True) and fresh.run.attempt is None and fresh.run.host == "w1"
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '2 hours'")
    stale = exp.register(IDENT, {"host": "w2"}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5))
    assert flags(stale) == (False, True, False) and stale.run.attempt == 2 and stale.run.host == "w2"
    stale.run.heartbeat()
    client.execute("UPDATE pgtrack.runs SET status = 'COMPLETED', time_updated = now() - interval '2 hours'")
    done = exp.register(IDENT, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5))
    assert done.was_skipped and done.run.status == "COMPLETED"


def _claim(conn, index, exp_id, dbname):
    c = pgtrack.Client(dbname=dbname)
    e = pgtrack.Experiment(c, experiment_id=exp_id)
    return e.register(IDENT, {"host": f"w{index}"}, on_duplicate="claim_if_stale", stale_after=dt.timedelta(minutes=5)).was_updated


def test_exactly_one_of_eight_processes_wins_a_stale_claim(exp, client, dbname):
    exp.register(IDENT, on_duplicate="raise")
    client.execute("UPDATE pgtrack.runs SET status = 'RUNNING', time_updated = now() - interval '1 hour'")
    results = run_parallel(dbname, _claim, 8, (exp.id, dbname))
    assert [status for status, _ in results] == ["ok"] * 8
    assert sum(value for _, value in results) == 1


def test_enqueue_and_claim_next(exp):
    grid = [{**IDENT, "seed": s} for s in range(3)]
    assert exp.enqueue(grid + [grid[0]]) == 3 and exp.enqueue(grid) == 0
    claimed = [exp.claim_next(HOUR, worker="w") for _ in range(4)]
    assert [r.attempt for r in claimed[:3]] == [1, 1, 1] and claimed[3] is None
    assert sorted(r.seed for r in claimed[:3]) == [0, 1, 2]


def test_schema_changes(exp):
    assert [f.name for f in exp.identifying_fields()] == ["candidate_id", "cell_k", "cell_sigma", "generation", "seed"]
    a = exp.register({**IDENT, "seed": 0}, on_duplicate="raise").run
    b = exp.register({**IDENT, "seed": 1}, on_duplicate="raise").run
    groups = exp.collisions_after_drop("seed")
    assert len(groups) == 1 and groups[0].run_ids == [a.id, b.id] and groups[0].identity == IDENT
    with pytest.raises(pgtrack.SchemaChangeError):
        exp.drop_identifying("seed")
    with pytest.raises(pgtrack.SchemaChangeError, match="needs a default"):
        exp.declare_identifying("warmup_steps", "int")
    exp.declare_identifying("warmup_steps", "int", default=0)
    assert exp.find(**IDENT, seed=1, warmup_steps=0) == b
    exp.drop_identifying("seed", force=True)
    assert exp.find(**IDENT, warmup_steps=0) == a and exp.client.value("SELECT count(*) FROM pgtrack.runs") == 1
    with pytest.raises(pgtrack.SchemaValidationError):
        exp.declare_identifying("nan_default", "float", default=math.nan)
