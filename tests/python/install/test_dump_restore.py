"""The install model's reason to exist: pg_dump -Fc / pg_restore keeps every row and metric column."""
import subprocess

import psycopg
import pytest

from conftest import create_database, drop_database

TABLES = ["experiments", "experiment_relationships", "runs", "run_relationships", "metrics",
          "identifying_fields", "applied_migrations", "meta"]


def _snapshot(dbname):
    with psycopg.connect(dbname=dbname) as conn:
        return {t: conn.execute(f"SELECT to_jsonb(x) FROM pgtrack.{t} x ORDER BY to_jsonb(x)::text").fetchall()
                for t in TABLES}


@pytest.fixture
def restored_name():
    name = create_database(setup=False)
    yield name
    drop_database(name)


def test_dump_restore_keeps_rows_added_columns_and_keeps_working(dbname, conn, restored_name, tmp_path):
    conn.execute("SELECT pgtrack.add_metric('val_loss'), pgtrack.add_metric('acc', 'real'), "
                 "pgtrack.add_run_column('host', 'text', indexed => true)")
    exp = conn.execute("SELECT pgtrack.experiment('dump', 'c', ARRAY['t'])").fetchone()[0]
    run = conn.execute("SELECT pgtrack.create_run(%s, tags => ARRAY['a'], args => '{\"lr\": 0.1}')", (exp,)).fetchone()[0]
    slurm = conn.execute("SELECT pgtrack.create_run(%s, run_id => 777777)", (exp,)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_relationship(%s, 'sibling', %s)", (run, slurm))
    for step in range(50):
        conn.execute("SELECT pgtrack.run_add_metrics(%s, %s, 0, jsonb_build_object('val_loss', %s::float8, 'acc', %s::float8))",
                     (run, step, 1.0 / (step + 1), step / 50))
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'lr', 'float')", (exp,))
    conn.execute("SELECT pgtrack.register(%s, '{\"lr\": 0.5}', '{\"host\": \"n1\"}', on_duplicate => 'raise')", (exp,))
    conn.execute("SELECT pgtrack.migrate('v1', 'CREATE INDEX metrics_val_loss_idx ON pgtrack.metrics (val_loss)')")
    conn.execute("SELECT pgtrack.experiment_view('dump')")  # a typed view (views.sql) comes back too
    before = _snapshot(dbname)

    dump = tmp_path / "db.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), dbname], check=True)
    subprocess.run(["pg_restore", "--exit-on-error", "-d", restored_name, str(dump)], check=True)

    assert _snapshot(restored_name) == before
    assert sum(len(rows) for rows in before.values()) > 55
    with psycopg.connect(dbname=restored_name, autocommit=True) as rc:
        cols = [r[0] for r in rc.execute("SELECT name FROM pgtrack.metric_columns()")]
        assert cols == ["val_loss", "acc"]
        new_run = rc.execute("SELECT pgtrack.create_run(%s)", (exp,)).fetchone()[0]
        assert new_run > 777777
        rc.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, '{\"val_loss\": 0.25}')", (new_run,))
        assert rc.execute("SELECT val_loss FROM pgtrack.metrics WHERE run_id = %s", (new_run,)).fetchone()[0] == 0.25
        # the identity trigger and unique key came back: 0.50 is the same key as 0.5
        with pytest.raises(psycopg.Error) as info:
            rc.execute("SELECT pgtrack.register(%s, '{\"lr\": 0.50}', on_duplicate => 'raise')", (exp,))
        assert info.value.sqlstate == "PT001"
        assert rc.execute("SELECT lr, best_val_loss FROM pgtrack_views.dump WHERE lr IS NOT NULL").fetchall() == [(0.5, None)]
        assert rc.execute("SELECT pgtrack.add_metric('new_one')").fetchone()[0] is True
        assert "best_new_one" in [r[0] for r in rc.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'pgtrack_views.dump'::regclass")]  # still kept current
        assert rc.execute("SELECT pgtrack.setup()").fetchone()[0] == "0.3.0"


def test_restore_of_a_non_superuser_install_keeps_the_owner(tmp_path):
    """The supported procedure (docs/security.md): restore as the owner (pg_restore --role=owner, or
    connect as it). A superuser restore without --role would make the superuser own the SECURITY
    DEFINER functions (0.1.0 did that silently); now CREATE EXTENSION refuses, because the dumped schema
    pgtrack belongs to the real owner."""
    import uuid

    from conftest import admin_connect

    owner = f"owner_{uuid.uuid4().hex[:8]}"
    source, good, bad = (create_database(setup=False) for _ in range(3))
    with admin_connect() as admin:
        admin.execute(f'CREATE ROLE "{owner}" LOGIN')
        for db in (source, good, bad):
            admin.execute(f'ALTER DATABASE "{db}" OWNER TO "{owner}"')
    try:
        with psycopg.connect(dbname=source, user=owner, autocommit=True) as c:
            c.execute("CREATE EXTENSION pgtrack")
            c.execute("SELECT pgtrack.setup(), pgtrack.add_metric('loss')")
            c.execute("SELECT pgtrack.run_add_metrics(pgtrack.create_run(pgtrack.experiment('x')), 1, metrics => '{\"loss\": 1}')")
        dump = tmp_path / "owned.dump"
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), source], check=True)
        subprocess.run(["pg_restore", "--exit-on-error", f"--role={owner}", "-d", good, str(dump)], check=True)
        refused = subprocess.run(["pg_restore", "--exit-on-error", "-d", bad, str(dump)], capture_output=True, text=True)
        assert refused.returncode != 0 and "refusing to install or set up pgtrack" in refused.stderr
        definer_owners = ("SELECT DISTINCT proowner::regrole::text FROM pg_proc "
                          "WHERE pronamespace = 'pgtrack'::regnamespace AND prosecdef")
        with psycopg.connect(dbname=good, user=owner, autocommit=True) as c:
            assert c.execute(definer_owners).fetchall() == [(owner,)]
            assert c.execute("SELECT pgtrack.setup()").fetchone()[0] == "0.3.0"
            assert c.execute("SELECT pgtrack.add_metric('acc')").fetchone()[0] is True
        with psycopg.connect(dbname=bad, autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pgtrack'").fetchone()[0] == 0
    finally:
        for db in (source, good, bad):
            drop_database(db)
        with admin_connect() as admin:
            admin.execute(f'DROP ROLE "{owner}"')
