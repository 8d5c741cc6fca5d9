"""Shared-server safety, round 3 (issue 16), as real roles in real sessions: a reader's temporary view
against the admin's maintenance, and a writer's raw writes against the queue's invariants. (The
embedded socket: test_embedded_socket.py; search_path shadows: test_search_path.py; mixed-sign
intervals and names: tests/sql/leases.sql, lost.sql, invariants.sql.)"""
import time

import psycopg
import pytest

from test_shared_server import connect_as, roles  # noqa: F401  (the fixture)


@pytest.fixture
def granted(conn, roles):  # noqa: F811
    conn.execute("SELECT pgtrack.grant_roles()")
    for kind in ("reader", "writer", "admin"):
        conn.execute(f'GRANT pgtrack_{kind} TO "{roles[kind]}"')
    conn.execute("SELECT pgtrack.add_metric('loss'), pgtrack.add_metric('old')")
    return roles


def test_a_readers_temporary_view_is_named_and_blocks_nothing_once_gone(dbname, granted):
    reader = connect_as(dbname, granted["reader"])
    reader.execute("CREATE TEMP VIEW v AS SELECT * FROM pgtrack.metrics")
    with connect_as(dbname, granted["admin"]) as admin:
        admin.execute("SELECT pgtrack.add_metric('later'), pgtrack.drop_metric('later')")  # not in the view: fine
        for call in ("SELECT pgtrack.drop_metric('old')", "SELECT pgtrack.compact_metrics()",
                     "SELECT pgtrack.partition_metrics(2)"):
            with pytest.raises(psycopg.Error) as info:
                admin.execute(call)
            message = info.value.diag.message_primary
            assert info.value.sqlstate == "PT005", (call, info.value.sqlstate, message)
            assert "view pg_temp" in message and granted["reader"] in message and "temporary" in message
            assert "DROP VIEW" in info.value.diag.message_hint
        pid = reader.info.backend_pid
        reader.close()  # the reader's session ends, its view with it: once its backend has exited
        for _ in range(100):  # (close() does not wait for that; under load it can take a moment)
            if admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0:
                break
            time.sleep(0.1)
        admin.execute("SELECT pgtrack.drop_metric('old')")
        admin.execute("SELECT pgtrack.compact_metrics()")


def test_a_writers_raw_writes_cannot_stall_the_queue(dbname, granted):
    with connect_as(dbname, granted["writer"]) as writer:
        exp = writer.execute("SELECT pgtrack.experiment('q')").fetchone()[0]
        with connect_as(dbname, granted["admin"]) as admin:
            admin.execute("SELECT pgtrack.declare_identifying(%s, 'k', 'int')", (exp,))
        writer.execute("SELECT pgtrack.enqueue(%s, '[{\"k\": 1}, {\"k\": 2}]')", (exp,))
        first = writer.execute("SELECT pgtrack.find_run(%s, '{\"k\": 1}')", (exp,)).fetchone()[0]
        for bad in ("attempt = 2147483647", "attempt = -1", "time_updated = 'infinity'", "time_updated = '9999-12-31'",
                    "time_created = 'infinity'"):
            with pytest.raises(psycopg.errors.CheckViolation):
                writer.execute(f"UPDATE pgtrack.runs SET {bad} WHERE id = %s", (first,))
        writer.execute("UPDATE pgtrack.runs SET attempt = 1000000000 WHERE id = %s", (first,))  # the top: allowed
        claimed = [writer.execute("SELECT run_id FROM pgtrack.claim_next(%s, '1 hour')", (exp,)).fetchone()[0]
                   for _ in range(2)]
        assert claimed[0] != first and claimed[1] is None  # skipped, never an overflow error


@pytest.mark.parametrize("args, code, words", [
    (["metrics", "add", "x", "int; DROP TABLE x"], 5, "is not a type"),
    (["metrics", "add", "x", "pg_temp.evil"], 5, "is not a type"),
    (["--dsn", "garbage=", "status"], 1, "invalid connection settings"),
    (["report", "raw-errors", "-o", "/dev/full"], 5, "/dev/full"),
])
def test_cli_errors_that_were_raw(dbname, args, code, words):
    import os
    import subprocess
    import sys

    import pgtrack

    client = pgtrack.Client(dbname=dbname)
    run = pgtrack.Experiment(client, name="raw-errors").get_run()
    with run.track():
        run.add_metrics(step=1, loss=1.0)
    done = subprocess.run([sys.executable, "-m", "pgtrack", *args], capture_output=True, text=True,
                          env=dict(os.environ, PGDATABASE=dbname), timeout=120)
    assert done.returncode == code, done.stderr
    assert words in done.stderr and done.stderr.count("\n") == 1 and "unexpected" not in done.stderr
    assert client.value("SELECT count(*) FROM pgtrack.metric_columns() WHERE name = 'x'") == 0


def test_python_errors_that_were_raw(client):
    import pgtrack

    exp = pgtrack.Experiment(client, name="raw")
    run = exp.get_run()
    for call in (lambda: exp.get_run(args=[1, 2]),
                 lambda: pgtrack.Experiment(client, name="lone \ud800 surrogate"),
                 lambda: run.set_comment("lone \udfff"),
                 lambda: run.add_args({"k": "lone \ud800"}),
                 lambda: run.add_metrics(step=1, **{"lone \ud800": 1.0}),
                 lambda: run.add_metrics(step=1, loss=object()),
                 lambda: client.add_metric("y", "int; DROP TABLE y")):
        with pytest.raises(pgtrack.SchemaValidationError):
            call()
    assert client.value("SELECT count(*) FROM pgtrack.experiments") == 1
    assert client.value("SELECT count(*) FROM pgtrack.runs") == 1
    assert client.value("SELECT args FROM pgtrack.runs") is None


def test_typed_views_give_nobody_more_than_the_tables(dbname, conn, granted):
    exp = conn.execute("SELECT pgtrack.experiment('viewed')").fetchone()[0]
    conn.execute("SELECT pgtrack.declare_identifying(%s, 'lr', 'float')", (exp,))
    conn.execute("SELECT pgtrack.register(%s, '{\"lr\": 0.1}', on_duplicate => 'raise')", (exp,))
    with connect_as(dbname, granted["admin"]) as admin:
        assert admin.execute("SELECT pgtrack.experiment_view('viewed')").fetchone()[0] == "pgtrack_views.viewed"
    with connect_as(dbname, granted["reader"]) as reader:
        assert reader.execute("SELECT lr FROM pgtrack_views.viewed").fetchall() == [(0.1,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT pgtrack.experiment_view('viewed')")
    with connect_as(dbname, granted["nobody"]) as stranger:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            stranger.execute("SELECT * FROM pgtrack_views.viewed")
    with connect_as(dbname, granted["writer"]) as writer:  # a writer's rename keeps the view current
        writer.execute("SELECT pgtrack.experiment_set_name(%s, 'viewed-2')", (exp,))
    assert conn.execute("SELECT to_regclass('pgtrack_views.\"viewed-2\"') IS NOT NULL").fetchone()[0]
    conn.execute("REVOKE SELECT ON pgtrack.runs FROM pgtrack_reader")  # security_invoker: the table decides
    with connect_as(dbname, granted["reader"]) as reader:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute('SELECT * FROM pgtrack_views."viewed-2"')
