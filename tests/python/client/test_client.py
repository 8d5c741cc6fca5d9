"""Client: settings priority, one reused connection, SQLTrack's transaction blocks, reconnects."""
import os

import psycopg
import pytest

import pgtrack
from pgtrack.config import resolve_params


def test_settings_priority_kwargs_over_env_over_file(tmp_path, monkeypatch):
    conf = tmp_path / "x.conf"
    conf.write_text("# comment\n[DEFAULT]\nhost = filehost\nport=1111\ndatabase = filedb\nuser=fileuser\n")
    monkeypatch.setenv("PGTRACK_DSN_PORT", "2222")
    monkeypatch.setenv("PGTRACK_DSN_USER", "envuser")
    params = resolve_params(conf, {"user": "kwuser", "sslmode": None})
    assert params == {"host": "filehost", "port": "2222", "dbname": "filedb", "user": "kwuser"}
    monkeypatch.setenv("PGTRACK_CONFIG_PATH", str(conf))
    assert resolve_params(None, {})["host"] == "filehost"


def test_default_config_file_and_missing_named_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PGTRACK_CONFIG_PATH", raising=False)
    assert resolve_params(None, {}, environ={}) == {}
    (tmp_path / "pgtrack.conf").write_text("dbname=fromdefault\n")
    assert resolve_params(None, {}, environ={}) == {"dbname": "fromdefault"}
    with pytest.raises(FileNotFoundError):
        resolve_params(tmp_path / "nope.conf", {})


def test_dsn_url_with_overrides(dbname):
    host, port = os.environ["PGHOST"], os.environ["PGPORT"]
    client = pgtrack.Client(dsn=f"postgresql://postgres@/{dbname}?host={host}&port={port}", application_name="x")
    assert client.value("SELECT current_database()") == dbname
    assert client.value("SELECT current_setting('application_name')") == "x"


def test_one_connection_is_reused(client):
    pids = {client.value("SELECT pg_backend_pid()") for _ in range(20)}
    exp = pgtrack.Experiment(client, name="reuse")
    run = exp.get_run()
    with run.track():
        for step in range(50):
            run.add_metrics(step=step, loss=1.0)
    pids.add(client.value("SELECT pg_backend_pid()"))
    assert len(pids) == 1


def test_calls_commit_at_once_outside_a_block(dbname, client):
    exp = pgtrack.Experiment(client, name="visible")
    with psycopg.connect(dbname=dbname) as other:
        assert other.execute("SELECT count(*) FROM pgtrack.experiments WHERE id = %s", (exp.id,)).fetchone()[0] == 1


def test_connect_block_is_one_transaction_that_nests(dbname, client):
    with psycopg.connect(dbname=dbname, autocommit=True) as other:
        def seen():
            return other.execute("SELECT count(*) FROM pgtrack.experiments").fetchone()[0]
        with client.connect():
            pgtrack.Experiment(client, name="a")
            with client.connect(), client.cursor() as cur:
                cur.execute("SELECT pgtrack.experiment('b')")
            assert seen() == 0
        assert seen() == 2
        with pytest.raises(ZeroDivisionError):
            with client.connect():
                pgtrack.Experiment(client, name="c")
                1 / 0
        assert seen() == 2
        with client.connect():
            pgtrack.Experiment(client, name="d")
            client.commit()
            assert seen() == 3
            pgtrack.Experiment(client, name="e")
            client.rollback()
        assert seen() == 3
    with pytest.raises(RuntimeError):
        client.commit()


def test_pgtrack_error_inside_block_rolls_back_everything(client):
    with pytest.raises(pgtrack.NotFoundError):
        with client.connect():
            pgtrack.Experiment(client, name="gone")
            pgtrack.Run(client, experiment_id=-1)
    assert client.value("SELECT count(*) FROM pgtrack.experiments WHERE name = 'gone'") == 0


def test_reconnects_after_the_server_dropped_the_connection(dbname, client):
    exp = pgtrack.Experiment(client, name="reconnect")
    before = client.value("SELECT pg_backend_pid()")
    with psycopg.connect(dbname=dbname, autocommit=True) as admin:
        admin.execute("SELECT pg_catalog.pg_terminate_backend(%s::int, 10000::bigint)", (before,))  # waits until it has exited
    run = exp.get_run()  # the next call notices and reconnects instead of failing
    assert client.value("SELECT pg_backend_pid()") != before
    run.add_metrics(step=1, loss=0.5)
    assert client.value("SELECT loss FROM pgtrack.metrics WHERE run_id = %s", (run.id,)) == 0.5


def test_lost_connection_inside_a_block_is_an_error(dbname, client):
    with psycopg.connect(dbname=dbname, autocommit=True) as admin:
        with pytest.raises(psycopg.OperationalError):
            with client.connect():
                admin.execute("SELECT pg_catalog.pg_terminate_backend(%s::int)", (client.value("SELECT pg_backend_pid()"),))
                pgtrack.Experiment(client, name="lost")
    assert client.value("SELECT count(*) FROM pgtrack.experiments WHERE name = 'lost'") == 0


def test_password_is_not_shown(dbname):
    assert "s3cret" not in repr(pgtrack.Client(dbname=dbname, password="s3cret"))


@pytest.mark.skipif(bool(os.environ.get("PGTRACK_CITUS_DIR")), reason="restarts the single test server")
def test_reconnects_after_a_server_restart(client):
    import subprocess

    data = os.path.join(os.environ["PGTRACK_CLUSTER_DIR"], "data")
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    exp = pgtrack.Experiment(client, name="restart")
    before = client.value("SELECT pg_backend_pid()")
    log = os.path.join(os.environ["PGTRACK_CLUSTER_DIR"], "server.log")  # -l: else the server keeps our pipe open
    pg_ctl = os.path.join(os.environ["PGTRACK_PG_BIN"], "pg_ctl")
    subprocess.run(runas + [pg_ctl, "-D", data, "-l", log, "-m", "fast", "-w", "restart"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    run = exp.get_run()  # the first call after the restart reconnects instead of failing
    assert run.id and client.value("SELECT pg_backend_pid()") != before
