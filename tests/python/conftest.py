"""Fixtures: a fresh database with pgtrack set up, on the throwaway cluster started by `make test`.

The cluster is reached through the libpq environment (PGHOST, PGPORT, PGUSER) that tools/test.sh
exports; these tests never touch a system cluster. With PGTRACK_CITUS_DIR (a cluster started by
tools/citus.sh, PGHOST/PGPORT naming its coordinator) every database is made on every node with Citus,
and pgtrack.distribute() runs after setup(): the same tests on the distributed layout.
"""
from __future__ import annotations

import itertools
import os
import time
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


CITUS_DIR = os.environ.get("PGTRACK_CITUS_DIR")


def citus_nodes() -> list:
    """(name, port) of every node of the Citus cluster under PGTRACK_CITUS_DIR, the coordinator first."""
    with open(os.path.join(CITUS_DIR, "nodes")) as f:
        return [(name, int(port)) for name, port in (line.split() for line in f if line.strip())]


def create_database(setup: bool = True) -> str:
    name = f"t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    if CITUS_DIR:
        _create_citus_database(name)
    elif setup:  # a copy of a database set up once: what CREATE EXTENSION and setup() make, in half the time
        with admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template()}"')
        return name
    else:
        with admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    if setup:
        with psycopg.connect(dbname=name, autocommit=True) as conn:
            _set_up(conn)
            if CITUS_DIR:
                conn.execute("SELECT pgtrack.distribute(shard_count => 4)")  # fewer shards: faster to make
    return name


def _set_up(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION pgtrack")
    conn.execute("SELECT pgtrack.setup()")


_templates: dict = {}


def _template() -> str:
    """This process's template: a database with CREATE EXTENSION pgtrack and setup() done, made on first
    use on the current server (PGHOST/PGPORT: a test may start another), closed to connections so that
    copying it never waits for a session (autovacuum included)."""
    key = (os.environ.get("PGHOST"), os.environ.get("PGPORT"))
    if key not in _templates:
        name = f"pgtrack_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with admin_connect() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            with psycopg.connect(dbname=name, autocommit=True) as conn:
                _set_up(conn)
            admin.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        _templates[key] = name
    return _templates[key]


def _create_citus_database(name: str) -> None:
    """The database on every node, CREATE EXTENSION citus in each, the workers registered (what
    tools/citus.sh createdb does)."""
    nodes = citus_nodes()
    for _, port in nodes:
        with psycopg.connect(dbname="postgres", port=port, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(dbname=name, port=port, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION citus")
    with open(os.path.join(CITUS_DIR, "base")) as f:  # where tools/citus.sh put the servers
        socket_dir = os.path.join(f.read().strip(), "sock")
    with psycopg.connect(dbname=name, port=nodes[0][1], autocommit=True) as conn:
        conn.execute("SELECT citus_set_coordinator_host(%s, %s)", (socket_dir, nodes[0][1]))
        for _, port in nodes[1:]:
            conn.execute("SELECT citus_add_node(%s, %s)", (socket_dir, port))


def drop_roles(*names: str) -> None:
    """DROP OWNED BY (every database) then DROP ROLE, for login roles a test made. On Citus on every
    node: a role's privileges on shards live on the workers, which DROP OWNED on the coordinator
    does not reach."""
    quoted = ", ".join(f'"{name}"' for name in names)
    ports = [port for _, port in citus_nodes()] if CITUS_DIR else [None]
    for port in ports:
        where = {"port": port} if port else {}
        with psycopg.connect(dbname="postgres", autocommit=True, **where) as admin:
            databases = [row[0] for row in admin.execute("SELECT datname FROM pg_database WHERE datallowconn")]
            present = admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY (%s)", (list(names),)).fetchone()[0]
        if not present:
            continue
        for db in databases:
            with psycopg.connect(dbname=db, autocommit=True, **where) as conn:
                if CITUS_DIR:
                    conn.execute("SET citus.enable_ddl_propagation = off")
                conn.execute(f"DROP OWNED BY {quoted} CASCADE")
    for port in ports:
        with psycopg.connect(dbname="postgres", autocommit=True, **({"port": port} if port else {})) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {quoted}")


def drop_database(name: str, attempts: int = 5) -> None:
    """DROP DATABASE ... WITH (FORCE) on every node. FORCE waits 5 s for the sessions it terminates; on
    Citus a node's maintenance daemon can connect again in that window (ObjectInUse), so try again."""
    ports = [port for _, port in citus_nodes()] if CITUS_DIR else [None]
    for port in ports:
        with psycopg.connect(dbname="postgres", autocommit=True, **({"port": port} if port else {})) as conn:
            for attempt in range(attempts):
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(0.5)


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


def let_the_server_user_through(path) -> None:
    """As root, o+x on pytest's own 0700 directories down to ``path``, so the server's OS user can reach
    an embedded directory below it: pgtrack never changes the mode of a directory it did not create
    (test_as_root_the_embedded_server_changes_no_mode_of_a_directory_it_did_not_create)."""
    import stat
    import tempfile
    from pathlib import Path

    path, temp = Path(path), Path(tempfile.gettempdir())
    if os.geteuid() == 0:
        for directory in [*reversed(path.parents), path]:
            if directory != temp and temp in directory.parents and directory.exists():
                directory.chmod(directory.stat().st_mode | stat.S_IXOTH)


def without_settings(env, home, embedded_dir=None, reachable: bool = True) -> dict:
    """``env`` less every PG*/PGTRACK_* variable (so nothing names a server: the embedded default
    applies), with HOME and PGTRACK_EMBEDDED_DIR (default HOME/embedded) set; as root (unless
    ``reachable`` is False), pytest's directories above the embedded directory let the server's OS
    user through."""
    from pathlib import Path

    embedded = Path(embedded_dir or Path(home) / "embedded")
    if reachable:
        let_the_server_user_through(embedded.parent)
    clean = {k: v for k, v in env.items() if not k.startswith(("PG", "PGTRACK_"))}
    return dict(clean, HOME=str(home), PGTRACK_EMBEDDED_DIR=str(embedded))


def _default_sigint() -> None:
    """In the child before exec: SIGINT as a terminal starts a program. A shell that starts the test
    run in the background (``make test &``, ``nohup``) ignores SIGINT, every child inherits that, and a
    Python started with SIGINT ignored never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_python(code: str, dbname: str, *args: str, signal_after: Optional[str] = None, signum: int = 15,
               timeout: float = 60, env: Optional[dict] = None):
    """Run ``code`` in a real child interpreter (argv: dbname, *args). With ``signal_after``, wait
    until the child prints that line, then send it ``signum``. Returns (returncode, stdout, stderr)."""
    import subprocess
    import sys
    import textwrap

    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), dbname, *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    out_lines = []
    if signal_after is not None:
        for line in proc.stdout:
            out_lines.append(line)
            if line.strip() == signal_after:
                proc.send_signal(signum)
                break
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(out_lines) + out, err


def spy_on(monkeypatch, module, name):
    """The result of every call of module.name, in a list the test reads; wraps the real function."""
    seen = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        seen.append(result)
        return result
    monkeypatch.setattr(module, name, spy)
    return seen


@pytest.fixture
def paths(monkeypatch):
    """The result of every copy_rows.copy call (the COPY path of buffered flushes): rows copied, or
    None (the upsert wrote the batch)."""
    from pgtrack import copy_rows

    return spy_on(monkeypatch, copy_rows, "copy")


@pytest.fixture
def row_paths(monkeypatch):
    """The result of every metric_row.write call (the typed statement of unbuffered steps): True
    written by it, False handed to run_add_metrics (which wrote the step or raised)."""
    from pgtrack import metric_row

    return spy_on(monkeypatch, metric_row, "write")
