"""The embedded server's socket when its data directory is too deep for a Unix socket path (issue 16,
item 1): a hostile local user who pre-creates every path older versions chose (a directory, a 0777
directory, a symbolic link, a file) gains nothing. The server makes a fresh, randomly named 0700
directory, never follows a link, never chowns what it did not create, and neither the directory nor
the socket (0700) lets another user connect. Run with the victim as root (attacker: nobody) and as an
ordinary user (victim: nobody, attacker: daemon)."""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import without_settings

PGTRACK = str(Path(sys.executable).with_name("pgtrack"))
START = """
    import pgtrack
    client = pgtrack.Client()
    print(client.params["host"])
    print(client.value("SELECT 1"))
"""


def _as(user):
    return [] if user == "root" else ["runuser", "-u", user, "--"]


def _python_for(user):
    """(interpreter, extra env) that ``user`` can run with this checkout's packages: ours for root; for
    an ordinary user the system python3 of the same minor version on our site-packages (our own
    interpreter may live under /root), or None when the checkout is out of that user's reach."""
    if user == "root":
        return sys.executable, {}
    import sysconfig

    system = Path("/usr/bin/python3")
    same = system.exists() and subprocess.run([str(system), "-c", f"import sys; sys.exit(sys.version_info[:2] != {sys.version_info[:2]})"]).returncode == 0
    paths = [Path(sysconfig.get_paths()["purelib"]), Path(__file__).resolve().parents[3] / "python"]
    if not same or not all(_reachable(p) for p in paths):
        return None, {}
    return str(system), {"PYTHONPATH": os.pathsep.join(map(str, paths))}


def _reachable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


@pytest.mark.parametrize("victim, attacker", [("root", "nobody"), ("nobody", "daemon")])
@pytest.mark.parametrize("planted", ["directory", "open-directory", "symlink", "file"])
def test_a_planted_socket_path_gains_nothing(victim, attacker, planted):
    if os.geteuid() != 0:
        pytest.skip("needs root to play the victim and the attacker")
    python, extra = _python_for(victim)
    if python is None:
        pytest.skip("this checkout's packages are not reachable by an ordinary user")
    base = Path(tempfile.mkdtemp(prefix="pgtrack-victim-"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    root = home / ("deep-" + "d" * 60) / ("deeper-" + "e" * 40) / "embedded"  # > 100 bytes to the socket
    root.mkdir(parents=True)
    if victim != "root":
        subprocess.run(["chown", "-R", victim, str(home)], check=True)
    victim_uid = int(subprocess.run(["id", "-u", victim], capture_output=True, text=True).stdout)
    attacker_uid = int(subprocess.run(["id", "-u", attacker], capture_output=True, text=True).stdout)
    # The attacker plants every path an older pgtrack would have chosen, for this victim's uid.
    old = Path(tempfile.gettempdir()) / f"pgtrack-{victim_uid}-{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"
    target = Path(tempfile.mkdtemp(prefix="pgtrack-attacker-target-"))
    shutil.chown(target, attacker)
    if planted in ("directory", "open-directory"):
        old.mkdir()
        old.chmod(0o777 if planted == "open-directory" else 0o700)
    elif planted == "symlink":
        old.symlink_to(target)
    else:
        old.write_text("not a directory")
    os.lchown(old, attacker_uid, attacker_uid)
    env = dict(without_settings(os.environ, home, root), PGTRACK_QUIET="1", **extra)
    pgtrack_cli = [python, "-m", "pgtrack"]
    try:
        done = subprocess.run(_as(victim) + [python, "-c", textwrap.dedent(START)], env=env, capture_output=True,
                              text=True, timeout=300, cwd=home)
        assert done.returncode == 0, done.stderr[-3000:]
        socket_dir = Path(done.stdout.split()[0])
        assert socket_dir != old and socket_dir.parent == Path(tempfile.gettempdir())
        info = os.lstat(socket_dir)
        data_owner = os.lstat(root / "data").st_uid
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == data_owner and stat.S_IMODE(info.st_mode) == 0o700
        sock = os.lstat(socket_dir / ".s.PGSQL.5432")
        assert stat.S_IMODE(sock.st_mode) == 0o700
        # Nothing the attacker planted was taken over or changed.
        assert os.lstat(old).st_uid == attacker_uid and os.lstat(target).st_uid == attacker_uid
        # The attacker cannot connect through the socket.
        probe = subprocess.run(["runuser", "-u", attacker, "--", sys.executable, "-c",
                                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
                                str(socket_dir / ".s.PGSQL.5432")], capture_output=True, text=True, timeout=60)
        assert probe.returncode != 0 and "Permission denied" in probe.stderr, probe.stderr
        # A socket record pointing at a path the attacker controls is refused, not followed.
        record = root / "socket_dir"
        saved = record.read_text()
        record.write_text(f"{target}\n")
        refused = subprocess.run(_as(victim) + [python, "-c", textwrap.dedent(START)], env=env,
                                 capture_output=True, text=True, timeout=300, cwd=home)
        assert refused.returncode != 0 and "refusing the socket directory" in refused.stderr
        record.write_text(saved)
    finally:
        subprocess.run(_as(victim) + pgtrack_cli + ["embedded", "stop", "--force"], env=env, capture_output=True, timeout=120)
        for path in (old, target, base):
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.exists():
                shutil.rmtree(path, ignore_errors=True)


def test_the_log_is_private():
    base = Path(tempfile.mkdtemp(prefix="pgtrack-log-"))
    base.chmod(0o755)  # as root, the server's user must pass through (pgtrack opens no directory it did not make)
    env = dict(without_settings(os.environ, base, base / "embedded"), PGTRACK_QUIET="1")
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent("""
            import pgtrack, pgtrack.errors
            client = pgtrack.Client()
            run = pgtrack.Experiment(client, name="x").get_run()
            try:
                client.execute("SELECT pgtrack.run_set_env(%s, %s::jsonb)", (run.id, '{"TOKEN": "s3cr3t-value"'))
            except Exception:
                pass
        """)], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        log = base / "embedded" / "server.log"
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert "s3cr3t-value" not in log.read_text()
    finally:
        subprocess.run([PGTRACK, "embedded", "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
