"""SQLSTATEs map to the Python exception classes; a failing call changes nothing."""
import psycopg
import pytest

import pgtrack


@pytest.mark.parametrize("sql, cls", [
    ("SELECT pgtrack.create_run(-1)", pgtrack.NotFoundError),
    ("SELECT pgtrack.add_metric(' Bad')", pgtrack.SchemaValidationError),
    ("SELECT pgtrack.add_metric('step')", pgtrack.SchemaValidationError),
])
def test_sqlstate_maps_to_exception(conn, sql, cls):
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql)
    err = pgtrack.translate(info.value)
    assert isinstance(err, cls) and isinstance(err, pgtrack.PgtrackError)
    assert err.hint  # every pgtrack error says what to do


def test_duplicate_run_error_carries_existing_id(conn):
    exp = conn.execute("SELECT pgtrack.experiment('dup')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
    run = conn.execute("SELECT run_id FROM pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,)).fetchone()[0]
    with pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT pgtrack.register(%s, '{\"k\": 1}', on_duplicate => 'raise')", (exp,))
    err = pgtrack.translate(info.value)
    assert isinstance(err, pgtrack.DuplicateRunError)
    assert err.existing_run_id == run


def test_add_metric_behind_a_busy_logger_fails_clearly_with_lock_timeout(dbname, conn):
    conn.execute("SELECT pgtrack.add_metric('loss')")
    run = conn.execute("SELECT pgtrack.create_run(pgtrack.experiment('busy'))").fetchone()[0]
    with psycopg.connect(dbname=dbname) as logger:  # holds a lock on metrics in an open transaction
        logger.execute("SELECT pgtrack.run_add_metrics(%s, 0, 0, '{\"loss\": 1}')", (run,))
        with pytest.raises(psycopg.Error) as info:
            conn.execute("SELECT pgtrack.add_metric('acc')")
        assert info.value.sqlstate == "PT005"
        assert "lock" in info.value.diag.message_primary
        logger.rollback()
    assert conn.execute("SELECT pgtrack.add_metric('acc')").fetchone()[0] is True
