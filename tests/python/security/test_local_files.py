"""Files pgtrack reads and writes on a shared machine (issue 31, items 3, 7c and 7d).

A config file is read only when it is the user's own and no one else may write it: a planted
./pgtrack.conf or ./sqltrack.conf is ignored with a warning (it would send the connection, and
PGPASSWORD, to another server: a fake server here proves nothing reaches it), a named one is an
error. Spill files are written to and read from a directory of the user's only, and a spill record
must name its run's uuid and attempt, which fences it like a live write. env='auto' drops every value
that carries a credential, by name or by value. Hostile corpus entries as config values, spill fields
and environment values give a clear error or a skip, never a traceback.

Cases that need a file of another user (nobody) run as root only."""
import json
import os
import pwd
import socket
import struct
import threading

import pytest

import hostile
import pgtrack
from pgtrack import cli, spill
from pgtrack.config import resolve_params
from pgtrack.environment import capture_env
from pgtrack.paths import UntrustedFile

ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody").pw_uid


def _plant(path, text, how="own"):
    """Write ``path`` as ``how`` says: own (0600), other-user (nobody's), world-writable, group-writable,
    or symlink (a link to an own 0600 file beside it)."""
    if how == "other-user" and not ROOT:
        pytest.skip("needs root to make a file another user owns")
    target = path.with_name(path.name + ".target") if how == "symlink" else path
    target.write_text(text)
    target.chmod({"world-writable": 0o666, "group-writable": 0o620}.get(how, 0o600))
    if how == "other-user":
        os.chown(target, NOBODY, -1)
    if how == "symlink":
        path.symlink_to(target)
    return path


UNTRUSTED = ["other-user", "world-writable", "group-writable", "symlink"]

# -- config files (item 3) -------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("PGTRACK_CONFIG_PATH", "SQLTRACK_CONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("name", ["pgtrack.conf", "sqltrack.conf"])
@pytest.mark.parametrize("how", UNTRUSTED)
def test_an_untrusted_default_config_file_is_ignored_with_a_warning(workdir, name, how):
    _plant(workdir / name, "host=attacker.example\nport=6543\n", how)
    with pytest.warns(UserWarning) as caught:
        assert resolve_params(None, {}, environ={}) == {}
    message = str(caught[0].message)
    assert f"ignoring the config file {workdir / name}" in message
    expected = {"other-user": "belongs to nobody", "symlink": "symbolic link"}.get(how, "others may write it")
    assert expected in message, message


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_your_own_config_file_is_read(workdir, mode):
    path = _plant(workdir / "pgtrack.conf", "dbname=mine\n")
    path.chmod(mode)
    assert resolve_params(None, {}, environ={}) == {"dbname": "mine"}


@pytest.mark.parametrize("named_by", ["config_path", "PGTRACK_CONFIG_PATH", "SQLTRACK_CONFIG_PATH", "cli"])
@pytest.mark.parametrize("how", ["other-user", "world-writable"])
def test_an_untrusted_named_config_file_is_an_error(workdir, named_by, how, capsys):
    path = _plant(workdir / "chosen.conf", "host=attacker.example\n", how)
    if named_by == "cli":
        assert cli.main(["-c", str(path), "dsn"]) == cli.EXIT_DENIED
        err = capsys.readouterr().err
        assert err.startswith(f"pgtrack: error: refusing {path}") and err.count("\n") == 1, err
        return
    with pytest.raises(UntrustedFile, match=f"refusing {path}"):
        if named_by == "config_path":
            resolve_params(path, {}, environ={})
        else:
            resolve_params(None, {}, environ={named_by: str(path)})


class FakeServer:
    """A TCP listener that speaks just enough of the PostgreSQL protocol to ask for a cleartext
    password, and records every connection and password it gets."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections, self.passwords = 0, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    self._ask_password(conn)
                except (OSError, struct.error):
                    pass

    def _ask_password(self, conn):
        while True:
            length, code = struct.unpack("!ii", _receive(conn, 8))
            _receive(conn, length - 8)
            if code not in (80877103, 80877104):  # SSLRequest, GSSENCRequest: answered no, then the startup
                break
            conn.sendall(b"N")
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        _receive(conn, 1)
        length = struct.unpack("!i", _receive(conn, 4))[0]
        self.passwords.append(_receive(conn, length - 4).rstrip(b"\0").decode())

    def close(self):
        self.sock.close()


def _receive(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def test_a_planted_config_file_does_not_send_the_password_elsewhere(workdir, dbname, monkeypatch):
    fake = FakeServer()
    try:
        _plant(workdir / "pgtrack.conf", f"host=127.0.0.1\nport={fake.port}\nconnect_timeout=5\n",
               "other-user" if ROOT else "world-writable")
        monkeypatch.setenv("PGPASSWORD", "the-victims-password")
        monkeypatch.setenv("PGTRACK_EMBEDDED", "0")
        with pytest.warns(UserWarning, match="ignoring the config file"):
            client = pgtrack.Client(dbname=dbname)
        try:
            assert client.value("SELECT current_database()") == dbname  # the cluster PGHOST names, as meant
        finally:
            client.close()
    finally:
        fake.close()
    assert fake.connections == 0 and fake.passwords == []


def _config_line(path, line):
    path.write_bytes(line.encode("utf-8", "surrogatepass") + b"\n")  # a lone surrogate: bytes that are not UTF-8
    path.chmod(0o600)


@pytest.mark.parametrize("place", ["value", "key"])
def test_hostile_config_text_gets_a_clear_error_or_works(workdir, place, capsys):
    path = workdir / "hostile.conf"
    for entry in hostile.CORPUS:
        _config_line(path, f"application_name = {entry}" if place == "value" else f"{entry} = x")
        code = cli.main(["-c", str(path), "dsn"])
        out, err = capsys.readouterr()
        assert code != cli.EXIT_BUG and "Traceback" not in err, (entry, code, err)
        assert code == cli.EXIT_OK or err.startswith("pgtrack: error: "), (entry, code, err)


# -- env='auto' (item 7d) --------------------------------------------------------------------------

DROPPED = [
    ("SQLTRACK_DSN_DSN", "host=db user=me"),
    ("SQLTRACK_DSN_HOST", "db.example"),
    ("PGTRACK_DSN_PASSWORD", "hunter2"),
    ("DATABASE_URL", "postgres://me@db/x"),
    ("ANALYTICS_DATABASE_URL_RO", "postgres://db/x"),
    ("WAREHOUSE_DSN", "dbname=x"),
    ("REDIS_URL", "redis://user:hunter2@cache:6379/0"),
    ("UPSTREAM", "https://alice:hunter2@git.example/repo.git"),  # any name: the value holds a password
    ("PG_CONN", "host=db password=hunter2"),
    ("ARGS", "--url=https://x.example/?password=hunter2"),
    ("GITHUB_PAT", "abc"),
    ("MYSQL_PASSWD", "x"),
    ("CREDS", "pw8"),
    ("MYSQL_PWD", "x"),
    ("LDAP_BINDPW", "x"),
    ("BORG_PASSPHRASE", "x"),
    ("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="),
    ("NOTIFY", "https://hooks.slack.com/services/T0/B0/x"),
    ("CI_JOB_JWT", "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sig"),
    ("EXTRA_HEADERS", "Authorization: Bearer abcdefghijk"),
    ("CACHE", "redis://:pa/ss@cache:6379"),
    ("MIRROR", "https://bob:s3cr#t@git.example/x"),
    ("INDEX", "https://__token__@pypi.example/simple"),  # a user part alone may be the token
    ("GIT_REMOTE", "ssh://git@github.com/x/y"),  # so any user part goes (the rule errs on dropping)
    ("MAPS", "AIza" + "a" * 35),
    ("BILLING", "sk_live_" + "a" * 20),
    ("BLOB", "https://acct.blob.example/c?sv=2020&sig=abc%3D"),
    ("AWS_CREDS_FILE_TEXT", "x"),
    ("DB_PASS", "x"),
    ("HTTP_AUTHORIZATION", "Bearer x"),
    ("BROWSER_COOKIE", "sid=1"),
    ("JUPYTER_SESSION", "x"),
    ("SSH_PRIVATE", "x"),
    ("CLIENT_CERT", "x"),
    ("NOTES", "ghp_" + "a1" * 18),
    ("NOTES", "clone with github_pat_" + "A1_" * 10),
    ("NOTES", "glpat-" + "x" * 20),
    ("NOTES", "xoxb-1234-5678-abcdefgh"),
    ("NOTES", "AKIAIOSFODNN7EXAMPLE"),
    ("NOTES", "sk-" + "a" * 40),
    ("NOTES", "hf_" + "a" * 34),
    ("NOTES", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----"),
]

KEPT = [
    ("SLURM_JOB_ID", "123"),
    ("CUDA_VISIBLE_DEVICES", "0,1"),
    ("HOMEPAGE_URL", "https://example.com/x"),
    ("TASK", "task-" + "a" * 30),  # 'sk-' inside a word is no key
    ("PGPASSFILE", "/home/me/.pgpass"),  # where the passwords are, not one
]


@pytest.mark.parametrize("name, value", DROPPED)
def test_env_auto_drops_values_that_carry_a_credential(name, value):
    assert capture_env(environ={name: value, "KEEP": "1"}) == {"KEEP": "1"}
    assert capture_env(allow=[name], environ={name: value}) == {}  # the secret rule wins over allow


@pytest.mark.parametrize("name, value", KEPT)
def test_env_auto_keeps_ordinary_values(name, value):
    assert capture_env(environ={name: value}) == {name: value}


def test_env_auto_takes_hostile_names_and_values():
    environ = {**{f"V{i}": entry for i, entry in enumerate(hostile.CORPUS)},
               **{entry: "1" for entry in hostile.CORPUS}}
    kept = capture_env(environ=environ)
    assert set(kept.items()) <= set(environ.items())


# -- spill files and pgtrack recover (item 7c) -----------------------------------------------------


@pytest.fixture
def spill_dir(tmp_path, monkeypatch):
    folder = tmp_path / "state" / "spill"
    monkeypatch.setenv("PGTRACK_SPILL_DIR", str(folder))
    return folder


@pytest.fixture
def run(client):
    return pgtrack.Experiment(client, name="spilled").get_run()


ROWS = [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]


def _rows(client, run_id):
    return client.value("SELECT count(*) FROM pgtrack.metrics WHERE run_id = %s", (run_id,))


def _status(client, run_id):
    return client.value("SELECT status::text FROM pgtrack.runs WHERE id = %s", (run_id,))


def _write_file(folder, header, lines=(), how="own"):
    """A spill file written by hand (header, then each line as it is)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"run-{len(list(folder.iterdir()))}-by-hand.jsonl"
    text = "\n".join([json.dumps(header), *lines]) + "\n"
    return _plant(path, text, how)


def test_spill_directory_is_made_0700_and_files_0600(run, spill_dir):
    path = spill.write(run.id, run.uuid, 0, ROWS)
    assert path.parent == spill_dir
    assert oct(spill_dir.stat().st_mode & 0o777) == "0o700" and oct(path.stat().st_mode & 0o777) == "0o600"


def _plant_spill_dir(spill_dir, how, fill=None):
    """The spill directory as an attacker leaves it (``how``); ``fill(real)`` first puts files in it.
    Returns the real directory (behind the link for "symlink")."""
    real = spill_dir.with_name("elsewhere") if how == "symlink" else spill_dir
    if fill is None:
        real.mkdir(parents=True)
    else:
        fill(real)
    real.chmod(0o777 if how == "world-writable" else 0o700)
    if how == "symlink":
        spill_dir.symlink_to(real)
    if how == "other-user":
        if not ROOT:
            pytest.skip("needs root to make a directory another user owns")
        os.chown(real, NOBODY, -1)
    return real


@pytest.mark.parametrize("how", ["other-user", "world-writable", "symlink"])
def test_spill_writes_refuse_a_planted_directory(run, spill_dir, how):
    real = _plant_spill_dir(spill_dir, how)
    with pytest.raises(UntrustedFile, match=f"refusing {spill_dir}"):
        spill.write(run.id, run.uuid, 0, ROWS)
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("how", ["other-user", "world-writable", "symlink"])
def test_recover_reads_nothing_from_a_planted_directory(client, run, spill_dir, how):
    _plant_spill_dir(spill_dir, how, lambda real: _write_file(real, {"run_id": run.id, "uuid": run.uuid, "attempt": 0},
                                                              [json.dumps(row) for row in ROWS]))
    with pytest.warns(UserWarning, match=f"not reading spill files: refusing {spill_dir}"):
        done = spill.recover(client)
    assert done["files"] == 0 and _rows(client, run.id) == 0


@pytest.mark.parametrize("how", UNTRUSTED)
def test_recover_refuses_a_file_that_is_not_the_users_own(client, run, spill_dir, how):
    path = _write_file(spill_dir, {"run_id": run.id, "uuid": run.uuid, "attempt": 0},
                       [json.dumps(row) for row in ROWS], how)
    with pytest.warns(UserWarning, match=f"left the spill file {path} in place"):
        done = spill.recover(client)
    assert (done["files"], done["refused"]) == (0, 1) and _rows(client, run.id) == 0
    assert os.path.lexists(path)


@pytest.mark.parametrize("missing", ["uuid", "attempt"])
@pytest.mark.parametrize("value", [None, "absent", "unknown", "1", True, -1, 2 ** 31, "x'); DROP TABLE pgtrack.runs; --"])
def test_a_spill_record_must_name_its_uuid_and_attempt(client, run, spill_dir, missing, value):
    header = {"run_id": run.id, "uuid": run.uuid, "attempt": 0}
    if value == "absent":
        del header[missing]
    else:
        header[missing] = value
    path = _write_file(spill_dir, header, [*map(json.dumps, ROWS), json.dumps({"stop": {"status": "FAILED"}})])
    with pytest.warns(UserWarning, match=f"no valid {'run uuid' if missing == 'uuid' else 'attempt'}"):
        done = spill.recover(client)
    assert (done["files"], done["refused"]) == (0, 1)
    assert _rows(client, run.id) == 0 and _status(client, run.id) != "FAILED"  # nothing loaded unfenced
    assert path.exists()  # left in place, for the user to look at


def test_a_run_without_a_claim_spills_the_attempt_it_had(client, run, spill_dir):
    with run.track():
        spilled = run.writer.spill(ROWS)  # what its buffer does when the server stays away
        run.writer.spill(ROWS[:1])
        header, rows, _ = spill.read(spilled)
        assert header == {"run_id": run.id, "uuid": run.uuid, "attempt": 0} and rows == ROWS
    # the block's end reached the server, so it loaded what this process had spilled
    assert _rows(client, run.id) == 2 and not list(spill.files(run.id))
    # Written again after someone claimed the run (attempt 1): refused like a live write (PT004).
    fenced = spill.write(run.id, run.uuid, 0, [{"step": 3, "loss": 1.0}])
    client.execute("UPDATE pgtrack.runs SET attempt = attempt + 1 WHERE id = %s", (run.id,))
    done = spill.recover(client, run.id)
    assert done["rejected"] == 1 and _rows(client, run.id) == 2
    assert fenced.with_suffix(".rejected").exists()


def test_a_long_outage_spill_loads_in_batches_the_writer_takes(client, run, spill_dir):
    rows = [{"step": step, "loss": step / 7} for step in range(12_000)]  # over run_add_metrics_batch's 10,000
    spill.write(run.id, run.uuid, 0, rows)
    assert spill.recover(client)["rows"] == len(rows) and _rows(client, run.id) == len(rows)


def test_recover_on_the_command_line_says_why_a_file_stays(client, dbname, run, spill_dir, capsys):
    path = _write_file(spill_dir, {"run_id": run.id, "uuid": None, "attempt": None}, map(json.dumps, ROWS))
    spill.write(run.id, run.uuid, 0, ROWS)
    assert cli.main(["-d", dbname, "recover", "--json"]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert f"left the spill file {path} in place, not loaded" in err and "Traceback" not in err
    counts = json.loads(out)
    assert (counts["files"], counts["rows"], counts["refused"]) == (1, 2, 1)


def _hostile_files(run):
    """(header, lines) of spill files with one hostile entry in each place a file holds text."""
    good = {"run_id": run.id, "uuid": run.uuid, "attempt": 0}
    for entry in hostile.CORPUS:
        text = json.dumps(entry)
        yield {**good, "uuid": entry}, [json.dumps(ROWS[0])]
        yield {**good, "attempt": entry}, [json.dumps(ROWS[0])]
        yield {**good, "run_id": entry}, [json.dumps(ROWS[0])]
        yield good, [f'{{"step": 1, {text}: 1.0}}']
        yield good, [json.dumps({"stop": {"status": entry}})]
        yield good, [json.dumps({"stop": {"status": "FAILED", "error": entry}})]
    yield good, ["{not json"]
    yield good, ["[1, 2]"]
    yield good, [json.dumps({"stop": "COMPLETED"})]
    yield "a string header", []


def test_hostile_spill_files_are_loaded_or_refused_never_a_traceback(client, run, spill_dir):
    files = [_write_file(spill_dir, header, lines) for header, lines in _hostile_files(run)]
    with pytest.warns(UserWarning):
        done = spill.recover(client)
    assert done["files"] + done["refused"] + done["skipped"] == len(files)
    left = [path for path in files if path.exists()]
    assert len(left) == done["refused"] + done["skipped"]
    assert client.value("SELECT count(*) FROM pgtrack.runs") == 1  # nothing reached another run
