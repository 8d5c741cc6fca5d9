"""Fixtures: a fresh database with pgtrack set up, on the throwaway cluster started by `make test`.

The cluster is reached through the libpq environment (PGHOST, PGPORT, PGUSER) that tools/test.sh
exports; these tests never touch a system cluster.
"""
from __future__ import annotations

import itertools
import os
import uuid

import psycopg
import pytest

_counter = itertools.count()


def _require_cluster() -> None:
    if not os.environ.get("PGTRACK_CLUSTER_DIR"):
        pytest.exit("these tests need the throwaway cluster: run them with `make test`", returncode=2)


def admin_connect() -> psycopg.Connection:
    return psycopg.connect(dbname="postgres", autocommit=True)


def create_database(setup: bool = True) -> str:
    name = f"t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    if setup:
        with psycopg.connect(dbname=name, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pgtrack")
            conn.execute("SELECT pgtrack.setup()")
    return name


def drop_database(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def dbname():
    """Name of a new database with CREATE EXTENSION pgtrack and pgtrack.setup() done."""
    _require_cluster()
    name = create_database()
    yield name
    drop_database(name)


@pytest.fixture
def conn(dbname):
    """An autocommit connection to the fresh database."""
    with psycopg.connect(dbname=dbname, autocommit=True) as connection:
        yield connection
