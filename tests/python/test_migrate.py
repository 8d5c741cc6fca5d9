"""migrate(): a failing script leaves no trace and can be fixed and retried."""
import psycopg
import pytest


def test_failing_migration_is_retryable(conn):
    with pytest.raises(psycopg.Error):
        conn.execute("SELECT pgtrack.migrate('v1', 'ALTER TABLE pgtrack.metrics ADD COLUMN a float8; SELECT 1/0')")
    assert conn.execute("SELECT count(*) FROM pgtrack.applied_migrations").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM pgtrack.metric_columns()").fetchone()[0] == 0
    assert conn.execute("SELECT pgtrack.migrate('v1', 'ALTER TABLE pgtrack.metrics ADD COLUMN a float8')").fetchone()[0] is True
    assert conn.execute("SELECT pgtrack.migrate('v1', 'ALTER TABLE pgtrack.metrics ADD COLUMN a float8')").fetchone()[0] is False
    assert [r[0] for r in conn.execute("SELECT name FROM pgtrack.metric_columns()")] == ["a"]


def test_migration_runs_with_session_search_path(conn):
    conn.execute("CREATE SCHEMA app")
    conn.execute("SET search_path = app, public")
    assert conn.execute("SELECT pgtrack.migrate('v2', 'CREATE TABLE notes (id int)')").fetchone()[0] is True
    assert conn.execute("SELECT to_regclass('app.notes') IS NOT NULL").fetchone()[0] is True
