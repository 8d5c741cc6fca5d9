"""superuser = false: a database owner who is not a superuser installs and uses pgtrack; other roles
need grants for the SECURITY DEFINER schema-change functions."""
import uuid

import psycopg
import pytest

from conftest import admin_connect


@pytest.fixture
def owner_db():
    suffix = uuid.uuid4().hex[:8]
    role, other, db = f"owner_{suffix}", f"user_{suffix}", f"owned_{suffix}"
    with admin_connect() as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'CREATE ROLE "{other}" LOGIN')
        admin.execute(f'CREATE DATABASE "{db}" OWNER "{role}"')
    yield role, other, db
    with admin_connect() as admin:
        admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        admin.execute(f'DROP ROLE "{role}"')
        admin.execute(f'DROP ROLE "{other}"')


def test_non_superuser_owner_installs_and_uses_pgtrack(owner_db):
    role, other, db = owner_db
    with psycopg.connect(dbname=db, user=role, autocommit=True) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
        conn.execute("CREATE EXTENSION pgtrack")
        assert conn.execute("SELECT pgtrack.setup()").fetchone()[0] == "0.3.0"
        assert conn.execute("SELECT pgtrack.add_metric('loss')").fetchone()[0] is True
        run = conn.execute("SELECT pgtrack.create_run(pgtrack.experiment('x'))").fetchone()[0]
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 1, 0, '{\"loss\": 0.5}')", (run,))
        assert conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'pgtrack' AND tablename = 'metrics'").fetchone()[0] == role
        conn.execute(f'GRANT USAGE ON SCHEMA pgtrack TO "{other}"')

    with psycopg.connect(dbname=db, user=other, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pgtrack.add_metric('sneaky')")

    with psycopg.connect(dbname=db, user=role, autocommit=True) as conn:
        conn.execute(f'GRANT EXECUTE ON FUNCTION pgtrack.add_metric(text, regtype, text) TO "{other}"')
    with psycopg.connect(dbname=db, user=other, autocommit=True) as conn:
        assert conn.execute("SELECT pgtrack.add_metric('granted')").fetchone()[0] is True
