"""The built wheel carries the extension: installed into a fresh virtualenv (no repository around),
`pgtrack setup --install-extension` copies the files into the server and sets up an empty database,
and one tracked run works."""
import os
import subprocess
import sys
from pathlib import Path

from conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
PG_CONFIG = os.path.join(os.environ.get("PGTRACK_PG_BIN", "/usr/lib/postgresql/15/bin"), "pg_config")

SCRIPT = """
import pathlib, sys, pgtrack, pgtrack.install
files = pgtrack.install.extension_files()
assert all("site-packages" in str(f) for f in files), files
assert {f.name for f in files} >= {"pgtrack.control", "pgtrack--0.1.0.sql", "pgtrack--0.1.0--0.2.0.sql"}, files
client = pgtrack.Client()
client.execute("SELECT pgtrack.add_metric('loss')")
run = pgtrack.Experiment(client, name="from-the-wheel").get_run()
with run.track():
    run.add_metrics(step=1, loss=0.5)
print(run.refresh().status, client.value("SELECT loss FROM pgtrack.metrics WHERE run_id = %s", (run.id,)))
"""


def test_the_wheel_installs_the_extension_and_tracks_a_run(tmp_path):
    built = subprocess.run(["make", "-s", "-C", str(ROOT), "wheel"], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = sorted((ROOT / "dist").glob("pgtrack-*.whl"))[-1]
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
    finally:
        drop_database(db)
