"""Fixtures: a fresh database with pgtrack set up, on the throwaway cluster started by `make test`.

The cluster is reached through the libpq environment (PGHOST, PGPORT, PGUSER) that tools/test.sh
exports; these tests never touch a system cluster.
"""
from __future__ import annotations

import itertools
import os
import uuid
from typing import Optional

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


@pytest.fixture
def client(dbname):
    """A pgtrack.Client on the fresh database, with metrics loss and acc declared."""
    import pgtrack

    c = pgtrack.Client(dbname=dbname)
    c.execute("SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('acc')")
    yield c
    c.close()


def without_settings(env, home, embedded_dir=None) -> dict:
    """``env`` less every PG*/PGTRACK_* variable (so nothing names a server: the embedded default
    applies), with HOME and PGTRACK_EMBEDDED_DIR (default HOME/embedded) set."""
    from pathlib import Path

    clean = {k: v for k, v in env.items() if not k.startswith(("PG", "PGTRACK_"))}
    return dict(clean, HOME=str(home), PGTRACK_EMBEDDED_DIR=str(embedded_dir or Path(home) / "embedded"))


def run_python(code: str, dbname: str, *args: str, signal_after: Optional[str] = None, signum: int = 15,
               timeout: float = 60, env: Optional[dict] = None):
    """Run ``code`` in a real child interpreter (argv: dbname, *args). With ``signal_after``, wait
    until the child prints that line, then send it ``signum``. Returns (returncode, stdout, stderr)."""
    import subprocess
    import sys
    import textwrap

    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), dbname, *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_lines = []
    if signal_after is not None:
        for line in proc.stdout:
            out_lines.append(line)
            if line.strip() == signal_after:
                proc.send_signal(signum)
                break
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(out_lines) + out, err
