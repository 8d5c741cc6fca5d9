"""pgtrack's conftest for wallow 0.2.1's own test files (the sdist ships the tests, not their conftest).

tests/python/compat/test_peer_suites.py copies this file as ``conftest.py`` beside the translated test
files, with ``example_wallow.toml`` in ``fixtures/``, and runs pytest there in a child process. It gives
the fixtures and helpers wallow's tests use (``example_schema``, ``memory_store``, ``file_store``,
``schema_from_string``; ``make_identifying`` and ``schema_from_toml``, which they import from here), and:

- an empty registry for every test, as wallow's fresh SQLite files were: the run's database (made by
  the outer test and made the default one through PGDATABASE, with PGTRACK_EMBEDDED=0, so every
  ``Store(":memory:")`` or ``Store(path)`` of a test and of the processes it spawns opens it) has every
  experiment deleted (``pgtrack.delete_experiment``: runs, identifying fields and all) and the sessions
  earlier tests left open ended before each test. One database per run and not per test: a CREATE
  DATABASE costs 0.2-0.7 s on a loaded 2-core machine, 40 s to 2 minutes over wallow's 180 tests
  instead of none. What stays from an earlier test is the annotating columns its schema added to
  ``pgtrack.runs``, which no experiment owns; a run with a fresh database per test gave the same
  outcome for every test (2026-12-07);
- the expected differences (tests/peers/expected.py) as ``xfail(strict=True)``: one that starts
  passing fails the run, so the list stays honest;
- the ``dsl`` mark on test_dsl.py and on the DSL tests of test_ergonomics.py (the two groups);
- every outcome in the JSON file ``$PGTRACK_PEER_RESULTS``, for the counts.
"""
from __future__ import annotations

import json
import os
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest
from expected import DSL_ERGONOMICS, WALLOW_TESTS

import pgtrack

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE_TOML = FIXTURES / "example_wallow.toml"


@pytest.fixture(scope="session")
def registry_admin():
    client = pgtrack.Client()
    yield client
    client.close()


@pytest.fixture(autouse=True)
def empty_registry(registry_admin):
    """No experiment and no other session in the run's database when the test starts."""
    registry_admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    registry_admin.execute("SELECT pgtrack.delete_experiment(id) FROM pgtrack.experiments")
    assert registry_admin.value("SELECT count(*) FROM pgtrack.runs") == 0


def make_identifying(**overrides: Any) -> Dict[str, Any]:
    return {"cell_k": 4, "cell_sigma": 0.1, "generation": 0, "candidate_id": 1, "seed": 0, **overrides}


def schema_from_toml(text: str) -> pgtrack.Schema:
    """A Schema from TOML text: pgtrack reads schemas from files, so through a temporary one."""
    fd, path = tempfile.mkstemp(suffix=".toml", prefix="wallow-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(textwrap.dedent(text))
        return pgtrack.load_schema(path)
    finally:
        os.unlink(path)


@pytest.fixture
def schema_from_string():
    return schema_from_toml


@pytest.fixture
def example_schema() -> pgtrack.Schema:
    return pgtrack.load_schema(EXAMPLE_TOML)


@pytest.fixture
def memory_store(example_schema):
    store = pgtrack.Store(":memory:", schema=example_schema, check_schema=False)
    yield store
    store.close()


@pytest.fixture
def file_store(tmp_path, example_schema):
    store = pgtrack.Store(tmp_path / "runs.db", schema=example_schema, check_schema=False)
    yield store
    store.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "dsl: wallow's DSL tests (test_dsl.py and the DSL tests of test_ergonomics.py)")


def pytest_collection_modifyitems(config, items):
    seen = set()
    for item in items:
        file = item.nodeid.split("::")[0]
        if file == "test_dsl.py" or (file == "test_ergonomics.py" and item.originalname in DSL_ERGONOMICS):
            item.add_marker(pytest.mark.dsl)
        for key in (item.nodeid, f"{file}::{item.originalname}"):
            if key in WALLOW_TESTS:
                seen.add(key)
                item.add_marker(pytest.mark.xfail(strict=True, reason=WALLOW_TESTS[key]))
                break
    files = {item.nodeid.split("::")[0] for item in items}
    stale = sorted(key for key in WALLOW_TESTS if key.split("::")[0] in files and key not in seen)
    if stale:
        raise pytest.UsageError(f"expected differences naming no test (remove them from tests/peers/expected.py): {stale}")


_outcomes: Dict[str, str] = {}


def pytest_runtest_logreport(report):
    """A test's outcome is that of its first phase that did not pass: passed, failed, skipped, xfailed
    (an expected difference), or xpassed (an expected difference that passed: strict, so a failure)."""
    if isinstance(report.longrepr, str) and report.longrepr.startswith("[XPASS(strict)]"):
        outcome = "xpassed"
    elif getattr(report, "wasxfail", None) is not None:
        outcome = "xfailed" if report.skipped else "xpassed"
    else:
        outcome = report.outcome
    if _outcomes.get(report.nodeid, "passed") == "passed":
        _outcomes[report.nodeid] = outcome


def pytest_sessionfinish(session):
    path = os.environ.get("PGTRACK_PEER_RESULTS")
    if path:
        Path(path).write_text(json.dumps(_outcomes, indent=1, sort_keys=True))
