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


def test_statements_that_cannot_run_in_a_transaction_are_not_blamed_on_begin_commit(conn):
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.migrate('v3', 'CREATE INDEX CONCURRENTLY m_idx ON pgtrack.metrics (step)')")
    assert info.value.sqlstate == "PT003" and "BEGIN/COMMIT" not in info.value.diag.message_hint
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.migrate('v4', 'COMMIT')")
    assert info.value.sqlstate == "PT003" and "BEGIN/COMMIT" in info.value.diag.message_hint


def test_a_scripts_search_path_does_not_leak_into_the_session(conn):
    before = conn.execute("SHOW search_path").fetchone()[0]
    conn.execute("SELECT pgtrack.migrate('v5', 'CREATE SCHEMA other; SET search_path = other')")
    assert conn.execute("SHOW search_path").fetchone()[0] == before


def test_indexed_run_column_always_gets_its_index(conn):
    conn.execute("CREATE INDEX runs_host_idx ON pgtrack.runs (comment)")  # the name 0.1.0 would have used
    conn.execute("SELECT pgtrack.add_run_column('host', 'text', indexed => true)")
    long_a, long_b = "a" * 60 + "_one", "a" * 60 + "_two"
    conn.execute("SELECT pgtrack.add_run_column(%s, 'text', indexed => true)", (long_a[:63],))
    conn.execute("SELECT pgtrack.add_run_column(%s, 'text', indexed => true)", (long_b[:63],))
    indexed = {r[0] for r in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = 'pgtrack.runs'::regclass AND i.indnatts = 1")}
    assert {"host", long_a[:63], long_b[:63]} <= indexed
    conn.execute("SELECT pgtrack.add_run_column('host', 'text', indexed => true)")  # again: no second index
    assert conn.execute("SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                        "AND a.attnum = i.indkey[0] WHERE i.indrelid = 'pgtrack.runs'::regclass AND a.attname = 'host'").fetchone()[0] == 1
