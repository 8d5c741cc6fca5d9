"""The plain-SQL install, for servers where extension files cannot be copied: databases that never
saw CREATE EXTENSION pgtrack get the same objects from a script (psql -f, or pgtrack setup --plain),
the version recorded; plain upgrades keep the data and end where a fresh plain install starts; the
Python API works on it. (make test also runs the pgTAP suite on a plain install.)"""
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import pgtrack
from conftest import create_database, drop_database
from pgtrack import plain
from test_upgrade import CATALOG_QUERIES, RELEASED, counts, fill

PGTRACK = str(Path(sys.executable).with_name("pgtrack"))


def catalog(conn):
    """test_upgrade's catalog, less what only an extension has (membership) or only a plain install."""
    got = {name: conn.execute(query).fetchall() for name, query in CATALOG_QUERIES.items()}
    got["functions"] = [row[:-1] for row in got["functions"] if row[0] != "plain_version"]
    return got


@pytest.fixture
def databases():
    made = []

    def make():
        made.append(create_database(setup=False))
        return made[-1]
    yield make
    for name in made:
        drop_database(name)


def pgtrack_cli(db, *args):
    return subprocess.run([PGTRACK, "-d", db, *args], capture_output=True, text=True, timeout=120)


def test_psql_f_of_the_plain_script_makes_what_create_extension_makes(databases, tmp_path):
    plain_db, ext_db = databases(), databases()
    script = tmp_path / "pgtrack-plain.sql"
    printed = subprocess.run([PGTRACK, "plain-sql"], capture_output=True, text=True)  # no database needed
    assert printed.returncode == 0, printed.stderr
    script.write_text(printed.stdout)
    ran = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", plain_db, "-f", str(script)],
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    with psycopg.connect(dbname=ext_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgtrack")
        conn.execute("SELECT pgtrack.setup()")
        fill(conn)
        want = catalog(conn)
    with psycopg.connect(dbname=plain_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pgtrack'").fetchone()[0] == 0
        assert conn.execute("SELECT pgtrack.plain_version()").fetchone()[0] == plain.current_version()
        fill(conn)
        got = catalog(conn)
    for name in CATALOG_QUERIES:
        assert got[name] == want[name], f"{name} differ between the plain and the extension install"
    # The same script again: refused with what to do, and nothing changed.
    again = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", plain_db, "-f", str(script)],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "schema pgtrack already exists" in again.stderr and "pgtrack setup" in again.stderr
    with psycopg.connect(dbname=plain_db, autocommit=True) as conn:
        assert catalog(conn) == got


@pytest.mark.parametrize("old_version", RELEASED)
def test_plain_upgrade_keeps_data_and_matches_a_fresh_plain_install(databases, old_version):
    upgraded, fresh = databases(), databases()
    with psycopg.connect(dbname=upgraded, autocommit=True) as conn:
        conn.execute(plain.install_sql(old_version))
        assert conn.execute("SELECT pgtrack.plain_version()").fetchone()[0] == old_version
        exp, run = fill(conn)
        before = counts(conn)
        # An upgrade step meant for another version refuses and changes nothing.
        wrong = [step for step in plain.upgrade_path(RELEASED[0]) if step[0] != old_version]
        for start, goal in wrong:
            with pytest.raises(psycopg.Error, match=f"upgrades a plain pgtrack {start}"):
                conn.execute(plain.upgrade_sql(start, goal))
    setup = pgtrack_cli(upgraded, "setup")  # a plain install is upgraded as plain, --plain or not
    assert setup.returncode == 0, setup.stderr
    assert f"upgraded plain pgtrack {old_version} ->" in setup.stdout
    with psycopg.connect(dbname=upgraded, autocommit=True) as conn:
        assert conn.execute("SELECT pgtrack.plain_version()").fetchone()[0] == plain.current_version()
        assert counts(conn) == before, "no row lost"
        attempt = conn.execute("SELECT attempt FROM pgtrack.register(%s, '{\"lr\": 0.1}', on_duplicate => "
                               "'claim_if_stale', stale_after => '1 hour')", (exp,)).fetchone()[0]
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 3, metrics => '{\"loss\": 0.3}', attempt => %s)",
                     (run, attempt))
        assert conn.execute("SELECT array_agg(loss ORDER BY step) FROM pgtrack.metrics WHERE run_id = %s",
                            (run,)).fetchone()[0] == [0.5, 0.4, 0.3]
        got = catalog(conn)
    assert pgtrack_cli(fresh, "setup", "--plain").returncode == 0
    with psycopg.connect(dbname=fresh, autocommit=True) as conn:
        fill(conn)
        want = catalog(conn)
    for name in CATALOG_QUERIES:
        assert got[name] == want[name], f"{name} differ after the plain upgrade from {old_version}"
    again = pgtrack_cli(upgraded, "setup", "--plain")
    assert again.returncode == 0 and "upgraded" not in again.stdout and "installed" not in again.stdout


def test_setup_plain_refuses_where_the_extension_is(dbname):
    done = pgtrack_cli(dbname, "setup", "--plain")
    assert done.returncode == 5 and "installed as an extension" in done.stderr and "ALTER EXTENSION" in done.stderr


def test_the_python_api_on_a_plain_install(databases):
    db = databases()
    setup = pgtrack_cli(db, "setup", "--plain")
    assert setup.returncode == 0 and "as plain SQL" in setup.stdout, setup.stderr
    client = pgtrack.Client(dbname=db)
    client.execute("SELECT pgtrack.add_metric('loss')")
    exp = pgtrack.Experiment(client, name="plain")
    exp.declare_identifying("lr", "float")
    result = exp.register({"lr": 0.1}, on_duplicate="raise")
    with result.run.track():
        result.run.add_metrics(step=1, loss=0.5)
    with pytest.raises(pgtrack.DuplicateRunError):  # deduplicated
        exp.register({"lr": 0.1}, on_duplicate="raise")
    assert client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (result.run.id,)) == "COMPLETED"
    status = pgtrack_cli(db, "--json", "status")
    assert status.returncode == 0 and '"plain install": "' + plain.current_version() in status.stdout
    client.close()


def test_a_managed_server_owner_without_superuser_installs_plain_and_roles_hold(databases):
    """As on RDS or Cloud SQL: the installing role owns the database and may create roles, nothing more;
    it owns what pgtrack runs as, a writer granted pgtrack_writer logs, a stranger is refused."""
    import uuid

    from conftest import admin_connect

    suffix = uuid.uuid4().hex[:8]
    owner, writer, stranger = f"owner_{suffix}", f"writer_{suffix}", f"stranger_{suffix}"
    db = databases()
    with admin_connect() as admin:
        admin.execute(f'CREATE ROLE "{owner}" LOGIN CREATEROLE')
        admin.execute(f'CREATE ROLE "{writer}" LOGIN')
        admin.execute(f'CREATE ROLE "{stranger}" LOGIN')
        admin.execute(f'ALTER DATABASE "{db}" OWNER TO "{owner}"')
        # The pgtrack_* roles are cluster-wide: when another test (or database) made them first, a
        # CREATEROLE owner may grant them only with ADMIN OPTION (PostgreSQL 16+), as the DBA of a
        # managed server would give it.
        for role in ("pgtrack_reader", "pgtrack_writer", "pgtrack_admin"):
            if admin.execute("SELECT to_regrole(%s)", (role,)).fetchone()[0] is not None:
                admin.execute(f'GRANT {role} TO "{owner}" WITH ADMIN OPTION')
    try:
        setup = pgtrack_cli(db, "-u", owner, "setup", "--plain")
        assert setup.returncode == 0, setup.stderr
        with psycopg.connect(dbname=db, user=owner, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = 'pgtrack'::regnamespace "
                                "AND proowner <> %s::regrole", (owner,)).fetchone()[0] == 0
            conn.execute("SELECT pgtrack.grant_roles()")
            conn.execute(f'GRANT pgtrack_writer TO "{writer}"')
            conn.execute("SELECT pgtrack.add_metric('loss')")
        with psycopg.connect(dbname=db, user=writer, autocommit=True) as conn:
            exp = conn.execute("SELECT pgtrack.experiment('managed')").fetchone()[0]
            run = conn.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
            conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, metrics => '{\"loss\": 0.5}')", (run,))
        with psycopg.connect(dbname=db, user=stranger, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT pgtrack.experiment('nope')")
    finally:
        drop_database(db)
        with admin_connect() as admin:  # the database went with their objects; memberships go with them
            admin.execute(f'DROP ROLE IF EXISTS "{writer}", "{stranger}", "{owner}"')
