"""Fixtures: a fresh database with pgtrack set up, on a throwaway cluster (make test, make check, or
tools/with-cluster.sh: tests/README.md).

The cluster is reached through the libpq environment (PGHOST, PGPORT, PGUSER) that those export;
these tests never touch a system cluster. With PGTRACK_CITUS_DIR (a cluster started by
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


def pytest_configure(config):
    """Under pytest-xdist with PGTRACK_CLUSTER_PER_WORKER=1 (make check), each worker starts a throwaway
    cluster of its own (tools/lib.sh's cluster_start, the server version of PG_MAJOR), so that tests
    which restart the server, or make roles with fixed names, never meet another worker's."""
    if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("PGTRACK_CLUSTER_PER_WORKER") == "1":
        import atexit
        import subprocess

        lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "lib.sh")
        started = subprocess.run(
            ["bash", "-c", f'source "{lib}"; use_postgres "${{PG_MAJOR:-15}}" >/dev/null 2>&1; cluster_start >/dev/null 2>&1; '
                           'printf "%s\\n%s\\n%s\\n" "$PGTRACK_CLUSTER_DIR" "$PGPORT" "$PGTRACK_PG_BIN"'],
            capture_output=True, text=True, check=True, timeout=120)
        directory, port, bin_dir = started.stdout.split()
        os.environ.update(PGHOST=directory, PGPORT=port, PGTRACK_CLUSTER_DIR=directory, PGTRACK_PG_BIN=bin_dir)
        atexit.register(_stop_worker_cluster, directory, bin_dir)


def _stop_worker_cluster(directory: str, bin_dir: str) -> None:
    import shutil
    import subprocess

    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(runas + [os.path.join(bin_dir, "pg_ctl"), "-D", os.path.join(directory, "data"), "-m", "immediate", "-w", "stop"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    shutil.rmtree(directory, ignore_errors=True)


def _require_cluster() -> None:
    if not os.environ.get("PGTRACK_CLUSTER_DIR"):
        pytest.exit("these tests need a throwaway cluster: tools/with-cluster.sh .venv/bin/python -m pytest ... "
                    "(tests/README.md), or make check / make test", returncode=2)


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
        name = _citus_spares.pop() if _citus_spares else _create_citus_database(name)
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


# Citus: a database costs 4 s to make on three nodes (CREATE EXTENSION citus on each, the workers
# registered) and 0.7 s to drop, more than most tests. A test's database goes back to that state
# instead (pgtrack dropped), and the next test takes it, when every node then matches what it was when
# made (_citus_fingerprint); otherwise it is dropped. The fixture's databases only: a test that makes
# its own drops it.
_citus_spares: list = []
_citus_skeletons: dict = {}  # name -> fingerprint of every node right after it was made


def _citus_fingerprint(name: str) -> list:
    """What a test could leave in a database on any node: the count of schemas, relations, functions,
    types, extensions, event triggers, publications, default privileges and database-level settings;
    the database's owner and privileges and those of schema public."""
    counts = []
    for _, port in citus_nodes():
        with psycopg.connect(dbname=name, port=port, autocommit=True) as conn:
            counts.append(conn.execute(
                "SELECT (SELECT count(*) FROM pg_namespace), (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_proc),"
                " (SELECT count(*) FROM pg_type), (SELECT count(*) FROM pg_extension), (SELECT count(*) FROM pg_event_trigger),"
                " (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_default_acl),"
                " (SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
                "   WHERE d.datname = current_database()),"
                " (SELECT datdba::text || coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()),"
                " (SELECT nspowner::text || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'public')").fetchone())
    return counts


def _recycle_citus_database(name: str) -> bool:
    """pgtrack and what it made dropped (schemas pgtrack and pgtrack_views, CASCADE: the distributed
    tables with their shards, and the extension); True, and the database kept for the next test, if
    every node then matches its fingerprint as made."""
    if name not in _citus_skeletons:
        return False
    try:
        with psycopg.connect(dbname=name, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                         " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            conn.execute("DROP SCHEMA IF EXISTS pgtrack_views CASCADE")
            conn.execute("DROP SCHEMA IF EXISTS pgtrack CASCADE")
        clean = _citus_fingerprint(name) == _citus_skeletons[name]
    except psycopg.Error:
        clean = False
    if clean:
        _citus_spares.append(name)
    return clean


def _create_citus_database(name: str) -> str:
    """The database on every node, CREATE EXTENSION citus in each, the workers registered (what
    tools/citus.sh createdb does); its name."""
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
    _citus_skeletons[name] = _citus_fingerprint(name)
    return name


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
    if not (CITUS_DIR and _recycle_citus_database(name)):
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
    """The result of every _copy.copy call (the COPY path of buffered flushes): rows copied, or
    None (the upsert wrote the batch)."""
    from pgtrack import _copy

    return spy_on(monkeypatch, _copy, "copy")


@pytest.fixture
def row_paths(monkeypatch):
    """The result of every _step.write call (the typed statement of unbuffered steps): True
    written by it, False handed to run_add_metrics (which wrote the step or raised)."""
    from pgtrack import _step

    return spy_on(monkeypatch, _step, "write")


# -- slow tests and machine tests --------------------------------------------------------------------

# Tests that take more than about 2 s each (servers restarted, children killed, timeouts waited out,
# virtualenvs built, a browser), measured: `make check` leaves them out (-m "not slow"), `make test`
# runs them. Whole files, then single tests (parameters included).
SLOW_FILES = {
    "compat/test_peer_suites.py",
    "compat/test_seed_examples.py",
    "install/test_install_from_checkout.py",
    "install/test_plain.py",
    "install/test_wheel.py",
    "metrics/test_faults.py",
    "metrics/test_replica.py",
    "metrics/test_resilience.py",
    "registry/test_registry_races.py",
    "security/test_names_capture.py",
    "ui/test_demo.py",
    "ui/test_report_markup.py",
    "ui/test_ui.py",
}
SLOW_TESTS = {
    "client/test_cli.py::test_experiments_rename_and_delete",
    "client/test_cli.py::test_global_options_after_the_command",
    "client/test_cli.py::test_listing_commands",
    "client/test_cli.py::test_lost_runs_in_runs_status_and_inspect",
    "client/test_cli.py::test_metrics_and_schema",
    "client/test_cli.py::test_output_into_a_closed_pipe_ends_quietly",
    "client/test_cli.py::test_setup_with_migrations_twice",
    "client/test_cli.py::test_small_things_a_user_meets",
    "client/test_cli.py::test_unreachable_database_and_missing_extension",
    "client/test_errors.py::test_add_metric_behind_a_busy_logger_fails_clearly_with_lock_timeout",
    "client/test_readme.py::test_python_blocks_run_verbatim",
    "compat/test_wallow_dropin.py::test_the_ml_sweep_recipe_dispatches_once_and_analyses",
    "compat/test_wallow_dropin.py::test_the_quick_start_runs_and_a_second_run_finds_the_same_run",
    "install/test_dump_restore.py::test_restore_of_a_non_superuser_install_keeps_the_owner",
    "install/test_embedded.py::test_as_root_the_embedded_server_changes_no_mode_of_a_directory_it_did_not_create",
    "install/test_embedded.py::test_four_processes_start_and_share_one_fresh_server",
    "install/test_embedded.py::test_no_settings_means_the_embedded_server",
    "install/test_embedded_socket.py::test_a_planted_socket_path_gains_nothing",
    "install/test_embedded_socket.py::test_the_log_is_private",
    "install/test_rebuild.py::test_1700_add_drop_cycles_then_add_metric_works_and_nothing_is_lost",
    "install/test_rebuild.py::test_near_the_limit_a_large_table_is_not_compacted_inside_add_metric",
    "install/test_rebuild.py::test_partitioned_metrics_keep_every_metric_function",
    "install/test_rebuild.py::test_the_live_column_limit_is_a_clear_error",
    "install/test_upgrade.py::test_upgrade_keeps_data_and_matches_fresh_install",
    "metrics/test_bad_values.py::test_a_row_the_server_refuses_at_a_flush_costs_that_row_alone",
    "metrics/test_lost.py::test_a_run_without_heartbeats_keeps_lost_after_which_can_be_changed",
    "metrics/test_lost.py::test_a_sigkilled_tracked_run_is_lost_after_three_missed_heartbeats",
    "metrics/test_transaction_cost.py::test_per_call_cost_is_flat_in_the_transaction_size",
    "registry/test_plans.py::test_analysis_reads_only_the_experiments_metrics",
    "registry/test_plans.py::test_claim_next_reads_the_queue_in_index_order",
    "registry/test_plans.py::test_register_lookup_uses_the_identity_key_despite_stale_statistics",
    "registry/test_races.py::test_twelve_processes_creating_one_experiment_get_one_id",
    "registry/test_registry_hits.py::test_a_hit_does_not_wait_for_a_change_of_the_fields",
    "registry/test_sweep.py::test_a_killed_worker_is_recovered_in_the_same_call",
    "registry/test_sweep.py::test_the_command_line_sweep",
    "security/test_corpus_entry_points.py::test_generated_values_round_trip_or_raise_a_pgtrack_error",
    "security/test_corpus_entry_points.py::test_the_cli_and_the_dashboard_show_every_name_as_text",
    "security/test_local_files.py::test_hostile_config_text_gets_a_clear_error_or_works",
    "security/test_local_files.py::test_hostile_spill_files_are_loaded_or_refused_never_a_traceback",
    "security/test_names_are_data.py::test_generated_names_are_columns_or_pt003",
    "security/test_names_are_data.py::test_no_call_takes_an_unbounded_input",
    "security/test_names_are_data.py::test_the_whole_corpus_is_a_column_or_pt003_and_never_code",
    "ui/test_ui_access.py::test_a_browser_opens_the_dashboard_through_the_redirect_file",
    "ui/test_ui_access.py::test_a_browser_sends_the_token_to_no_other_port",
    "ui/test_ui_access.py::test_a_given_token_may_be_any_text",
    "ui/test_ui_access.py::test_a_token_file_others_may_read_or_write_is_refused",
}
# Tests of the machine rather than of a server version: the embedded server (the wheel's own
# PostgreSQL, whatever server the lane runs), pip installs from a clone, the dashboard's HTTP access
# rules and a browser's view of escaped markup, the peers' released code translated. make test runs
# them in one version's lane only (-m "not machine" in the others; tools/test.sh).
MACHINE_FILES = {"install/test_install_from_checkout.py", "install/test_embedded.py", "install/test_embedded_socket.py",
                 "ui/test_ui_access.py", "ui/test_report_markup.py", "compat/test_peer_suites.py"}
MACHINE_TESTS = {"install/test_wheel.py::test_an_ordinary_user_gets_an_embedded_server_from_the_wheel",
                 "metrics/test_resilience.py::test_embedded_restart_while_logging"}


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        path = os.path.relpath(str(item.path), here)
        test = f"{path}::{item.originalname}"
        if path in SLOW_FILES or test in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if path in MACHINE_FILES or test in MACHINE_TESTS:
            item.add_marker(pytest.mark.machine)
