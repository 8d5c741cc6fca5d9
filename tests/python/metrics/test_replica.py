"""A read replica for analysis: a real streaming replica of the throwaway primary (pg_basebackup,
started on another port of its own socket directory). Client(read_dsn=...) and --read-dsn send the
analysis reads there and every write to the primary; with replay paused (the lag case) a run just
written is visible on the primary path at once and not on the replica, and the report from the
replica catches up once replay resumes."""
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

import pgtrack
from conftest import admin_connect
from pgtrack.report import build_report

PGTRACK = str(Path(sys.executable).with_name("pgtrack"))


@pytest.fixture(scope="module")
def replica():
    """conninfo of a hot standby of the throwaway cluster (all its databases), stopped at the end."""
    bin_dir = os.environ["PGTRACK_PG_BIN"]
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="pgtrack-replica."))
    home.chmod(0o755)
    if runas:
        subprocess.run(["chown", "postgres", str(home)], check=True)
    data, port = home / "data", str(random.randint(41000, 49000))
    with admin_connect() as admin:  # a standby needs at least the primary's values of these
        at_least = " ".join(f"-c {name}={admin.execute(f'SHOW {name}').fetchone()[0]}"
                            for name in ("max_connections", "max_locks_per_transaction", "max_worker_processes"))
    subprocess.run(runas + [os.path.join(bin_dir, "pg_basebackup"), "-D", str(data), "-R", "-X", "stream",
                            "-h", os.environ["PGHOST"], "-p", os.environ["PGPORT"], "-U", "postgres"],
                   check=True, capture_output=True, timeout=300)
    subprocess.run(runas + [os.path.join(bin_dir, "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-w", "-t", "60",
                            "-o", f"-k {home} -p {port} -c listen_addresses='' {at_least}", "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"host={home} port={port} user=postgres"
    finally:
        subprocess.run(runas + [os.path.join(bin_dir, "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", str(home)])


def wait_for(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_reads_go_to_the_replica_and_writes_to_the_primary_with_lag(replica, dbname):
    read_dsn = f"{replica} dbname={dbname}"
    with psycopg.connect(f"{replica} dbname=postgres", autocommit=True) as standby:  # CREATE DATABASE replayed?
        assert wait_for(lambda: standby.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                                                (dbname,)).fetchone()[0] == 1)
    with psycopg.connect(read_dsn, autocommit=True) as standby:
        assert standby.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
        assert wait_for(lambda: standby.execute("SELECT to_regclass('pgtrack.runs') IS NOT NULL").fetchone()[0])
        client = pgtrack.Client(dbname=dbname, read_dsn=read_dsn)
        assert client.for_reading() is not client
        assert client.for_reading().value("SELECT pg_is_in_recovery()") is True
        assert client.value("SELECT pg_is_in_recovery()") is False
        client.execute("SELECT pgtrack.add_metric('loss')")
        exp = pgtrack.Experiment(client, name="replicated")  # a write: the primary
        first = exp.get_run()
        with first.track():
            first.add_metrics(step=1, loss=0.5)
        primary_lsn = client.value("SELECT pg_current_wal_lsn()::text")
        assert wait_for(lambda: standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (primary_lsn,)).fetchone()[0])

        standby.execute("SELECT pg_wal_replay_pause()")  # the lag case
        try:
            second = exp.get_run()
            with second.track():
                second.add_metrics(step=1, loss=0.25)
            assert client.value("SELECT count(*) FROM pgtrack.runs WHERE id = %s", (second.id,)) == 1  # primary: at once
            html, runs, _ = build_report(client, exp.id)
            assert runs == 1  # the replica has not replayed the second run yet
            cli = subprocess.run([PGTRACK, "-d", dbname, "--read-dsn", read_dsn, "--json", "runs", "replicated"],
                                 capture_output=True, text=True, timeout=60)
            assert cli.returncode == 0 and cli.stdout.count('"status"') == 1, cli.stderr
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
        assert wait_for(lambda: build_report(client, exp.id)[1] == 2)  # caught up
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            client.for_reading().execute("SELECT pgtrack.experiment('never here')")
        client.close()
