"""Hostile text through every caller-controlled name: rejected, or stored as plain data (metric names
become columns of exactly that name)."""
import psycopg
import pytest

HOSTILE = [
    'x"; DROP TABLE pgtrack.runs; --',
    "x'); DROP TABLE pgtrack.runs; --",
    "Robert'); DELETE FROM pgtrack.experiments; --",
    "$$; DROP SCHEMA pgtrack CASCADE; $$",
    "a\\' OR 1=1",
]


def _tables_intact(conn):
    return conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'pgtrack'").fetchone()[0]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_rejected_or_stored_verbatim(conn, text):
    tables = _tables_intact(conn)
    exp = conn.execute("SELECT pgtrack.experiment(%s)", (text,)).fetchone()[0]
    assert conn.execute("SELECT name FROM pgtrack.experiments WHERE id = %s", (exp,)).fetchone()[0] == text
    run = conn.execute("SELECT pgtrack.create_run(%s, tags => ARRAY[%s])", (exp, text)).fetchone()[0]
    conn.execute("SELECT pgtrack.run_add_tags(%s, %s)", (run, text))
    conn.execute("SELECT pgtrack.run_add_args(%s, jsonb_build_object(%s::text, 1))", (run, text))
    conn.execute("SELECT pgtrack.run_add_relationship(%s, %s, %s)", (run, text, run))
    row = conn.execute("SELECT tags ? %s, args ? %s FROM pgtrack.runs WHERE id = %s", (text, text, run)).fetchone()
    assert row == (True, True)
    for call in ("SELECT pgtrack.add_run_column(%s, 'text')", "SELECT pgtrack.declare_identifying(%s::bigint, %s, 'int')"):
        params = (text,) if call.count("%s") == 1 else (exp, text)
        with pytest.raises(psycopg.Error) as info:
            conn.execute(call, params)
        assert info.value.sqlstate == "PT003"
    # Metric names are quoted identifiers (0.3.0): hostile text becomes a column of exactly that name.
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.run_add_metrics(%s, 0, 0, jsonb_build_object(%s::text, 1))", (run, text))
    assert info.value.sqlstate == "PT003"  # unknown without add_missing
    conn.execute("SELECT pgtrack.run_add_metrics(%s, 0, 0, jsonb_build_object(%s::text, 1), add_missing => true)", (run, text))
    assert conn.execute("SELECT name FROM pgtrack.metric_columns()").fetchall() == [(text,)]
    assert conn.execute("SELECT pgtrack.add_metric(%s)", (text,)).fetchone()[0] is False
    assert conn.execute("SELECT value::int FROM pgtrack.final_metrics(%s)", (run,)).fetchone()[0] == 1
    conn.execute("SELECT pgtrack.drop_metric(%s, force => true)", (text,))
    assert _tables_intact(conn) == tables
    assert conn.execute("SELECT count(*) FROM pgtrack.runs").fetchone()[0] == 1
