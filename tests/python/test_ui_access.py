"""Who may read the dashboard (issue 31, item 2). Every bind, the loopback included, needs the access
token: any account of the machine reaches 127.0.0.1, and a run's args, env and errors are private. The
token comes with the printed URL (?token=), then with a cookie named for the port; the Host header is
parsed strictly (DNS rebinding); a token is never on a command line (ps); whatever a client sends is
a 403, never a 500 or a traceback."""
import html
import http.client
import os
import secrets
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import webbrowser
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

import pgtrack
from hostile import CHARACTERS, CORPUS, MARKUP
from pgtrack.ui import make_server, url_of

PGTRACK = [sys.executable, "-m", "pgtrack"]
SECRET = "hunter2-in-the-args"
FORBIDDEN = b"forbidden: open the URL that pgtrack ui printed (it carries the access token)\n"


@contextmanager
def serving(client, host="127.0.0.1", token=None):
    server = make_server(client, host, 0, token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def request(server, path, headers=None):
    """(status, body, headers) of a GET sent as given: header values may be bytes (not Latin-1), and
    Host is ours to set (127.0.0.1:PORT unless given)."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for key, value in {"Host": f"127.0.0.1:{port}", **(headers or {})}.items():
            connection.putheader(key, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read(), dict(response.headers)
    finally:
        connection.close()


def get(url):
    """(status, body, headers) of a URL as urllib opens it."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def cookie_of(headers):
    """name=value of the Set-Cookie a reply carries."""
    return headers["Set-Cookie"].split(";")[0]


def _secret_run(client):
    return pgtrack.Experiment(client, name="private").get_run(args={"password": SECRET})


def test_the_loopback_needs_the_token_then_the_cookie(client):
    run = _secret_run(client)
    with serving(client) as server, serving(client) as other:
        port = server.server_address[1]
        status, body, _ = request(server, f"/api/runs/{run.id}")  # any local account, no token
        assert status == 403 and body == FORBIDDEN and SECRET.encode() not in body
        assert b"open the URL" in body
        url = url_of(server, f"/api/runs/{run.id}")
        assert urlsplit(url).hostname == "127.0.0.1" and parse_qs(urlsplit(url).query)["token"]
        status, body, headers = get(url)
        assert status == 200 and SECRET in body
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"pgtrack_token_{port}=")
        assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {part.strip() for part in cookie.split(";")}
        status, body, headers = request(server, f"/api/runs/{run.id}", {"Cookie": cookie_of(headers)})
        assert status == 200 and SECRET.encode() in body and "Set-Cookie" not in headers
        # among the cookies of other servers of the host (SimpleCookie drops a header at the first two)
        crowded = f'prefs={{"a":1}}; x=a b; {cookie_of(get(url)[2])}; z=1'
        assert request(server, "/api/experiments", {"Cookie": crowded})[0] == 200
        # two dashboards: two tokens, two cookie names; neither opens the other
        assert url_of(other).split("?")[1] != url_of(server).split("?")[1]
        theirs = cookie_of(get(url_of(other))[2])
        assert theirs.startswith(f"pgtrack_token_{other.server_address[1]}=")
        assert request(server, "/api/experiments", {"Cookie": theirs})[0] == 403
        value = theirs.split("=", 1)[1]
        assert request(server, "/api/experiments", {"Cookie": f"pgtrack_token_{port}={value}"})[0] == 403


def test_tokens_a_client_sends_are_refused_never_a_500(client, capsys):
    """Every corpus string, and non-ASCII ones (hmac.compare_digest raises TypeError on such str), in
    ?token= and in the cookie: a 403 and nothing on stderr."""
    with serving(client) as server:
        name = f"pgtrack_token_{server.server_address[1]}"
        for value in CORPUS + ["Ünïcödé", "é" * 40, "\U0001F600"]:
            raw = value.encode("utf-8", "surrogatepass")
            quoted = quote(raw, safe="")
            sent = [("/api/experiments?token=" + quoted, {}), ("/api/experiments", {"Cookie": f"{name}={quoted}"})]
            if b"\r" not in raw and b"\n" not in raw:  # as bytes, not percent-encoded (http.client refuses CR, LF)
                sent.append(("/api/experiments", {"Cookie": name.encode() + b"=" + raw}))
            for path, headers in sent:
                status, body, _ = request(server, path, headers)
                assert (status, body) == (403, FORBIDDEN), (value, path, headers)
    assert "Traceback" not in capsys.readouterr().err


def test_a_given_token_may_be_any_text(client):
    """Given (from a file or PGTRACK_UI_TOKEN), a token with markup, spaces, or non-ASCII characters
    works through the printed URL and the cookie; an empty or unencodable one is refused."""
    for token in MARKUP + [t for t in CHARACTERS if t.strip() and t != "\ud800lone"]:
        with serving(client, token=token) as server:
            status, _, headers = get(url_of(server, "/api/experiments"))
            assert status == 200, token
            assert cookie_of(headers).isascii()
            assert request(server, "/api/experiments", {"Cookie": cookie_of(headers)})[0] == 200
            assert request(server, "/api/experiments?token=" + quote(token + "x"))[0] == 403
    for token in ("", "  ", "\ud800lone"):
        with pytest.raises(ValueError, match="token"):
            make_server(client, "127.0.0.1", 0, token)


BAD_HOSTS = ["localhost:1@evil.com", "127.0.0.1@evil.com", "evil.com#127.0.0.1", "localhost.evil.com", "[::1]x",
             "evil.example:{port}", "localhost:{port}@evil.com", "127.0.0.1:{port}/x", "localhost:{port}.evil.com",
             "127.0.0.1:1", "127.0.0.1:{port}:{port}", "[127.0.0.1]:{port}", "[::1", "127.0.0.1:", "localhost:-1",
             "user@127.0.0.1:{port}", "127.0.0.1 :{port}", "", "127.0.0.1:{port}\x00"]
GOOD_HOSTS = ["127.0.0.1:{port}", "localhost:{port}", "LocalHost:{port}", "[::1]:{port}", "[0:0::1]:{port}", "127.0.0.1"]


def test_the_host_is_parsed_strictly_on_the_loopback(client):
    """The token does not replace the Host check: a page of evil.com that rebinds its name to
    127.0.0.1 must not be answered even if it somehow held the token."""
    with serving(client) as server:
        port = server.server_address[1]
        cookie = {"Cookie": cookie_of(get(url_of(server))[2])}
        for host in BAD_HOSTS:
            assert request(server, "/api/experiments", {"Host": host.format(port=port), **cookie})[0] == 403, host
        for host in GOOD_HOSTS:
            assert request(server, "/api/experiments", {"Host": host.format(port=port), **cookie})[0] == 200, host
        assert request(server, "/api/experiments", {"Host": f"localhost:{port}"})[0] == 403  # and the token still


def test_the_host_off_the_loopback(client):
    """Bound to an address, its own name; bound to a wildcard, any well-formed name (the token guards)."""
    from pgtrack.ui.server import host_allowed

    assert host_allowed("192.0.2.5:8000", "192.0.2.5", 8000) and host_allowed("192.0.2.5", "192.0.2.5", 8000)
    assert host_allowed("Lab.Example:8000", "lab.example", 8000)
    assert host_allowed("[2001:db8::0:1]:8000", "2001:db8::1", 8000)
    assert not host_allowed("evil.example:8000", "192.0.2.5", 8000)
    assert not host_allowed("192.0.2.5:8001", "192.0.2.5", 8000)
    assert not host_allowed("localhost:8000", "192.0.2.5", 8000)
    assert host_allowed("whatever.example:8000", "0.0.0.0", 8000) and host_allowed("[::1]:8000", "::", 8000)
    for host in ("localhost:1@evil.com", "127.0.0.1@evil.com", "evil.com#127.0.0.1", "[::1]x", "127.0.0.1:8000@evil.com",
                 "a b:8000", "x:8001", "[127.0.0.1]:8000", "[::1"):  # malformed: refused on a wildcard bind too
        assert not host_allowed(host, "0.0.0.0", 8000), host
    # end to end on another loopback address, which the server treats as any named address
    with serving(client, "127.0.0.2") as server:
        port = server.server_address[1]
        url = url_of(server)
        assert url.startswith(f"http://127.0.0.2:{port}/?token=")
        status, _, headers = get(url)
        assert status == 200
        cookie = {"Cookie": cookie_of(headers)}
        assert request(server, "/api/experiments", {"Host": f"127.0.0.2:{port}", **cookie})[0] == 200
        assert request(server, "/api/experiments", {"Host": f"localhost:{port}", **cookie})[0] == 403


def test_ui_token_on_the_command_line_is_refused():
    done = subprocess.run([*PGTRACK, "ui", "--no-browser", "--dsn", "host=/nonexistent dbname=none", "--token", "s3cret-value"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "--token-file" in done.stderr and "PGTRACK_UI_TOKEN" in done.stderr and "ps" in done.stderr
    assert "s3cret-value" not in done.stderr
    helped = subprocess.run([*PGTRACK, "ui", "--help"], capture_output=True, text=True, timeout=60)
    assert "--token-file" in helped.stdout and "PGTRACK_UI_TOKEN" in helped.stdout


@contextmanager
def ui_command(dbname, *args, env=None):
    """`pgtrack ui --no-browser --port 0` on dbname: (process, printed URL)."""
    environment = {k: v for k, v in os.environ.items() if k != "PGTRACK_UI_TOKEN"}
    proc = subprocess.Popen([*PGTRACK, "ui", "--no-browser", "--port", "0", "-d", dbname, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(environment, **(env or {})))
    try:
        yield proc, proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _check_token_served(proc, url, token):
    """The printed URL carries ``token`` and opens the dashboard; another token does not; the
    server's command line does not hold it."""
    assert parse_qs(urlsplit(url).query).get("token") == [token], url or proc.stderr.read()
    assert get(url)[0] == 200
    assert get(url.replace(token, token + "x"))[0] == 403
    assert token.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()


def test_the_token_from_the_environment(client, dbname):
    token = "env-" + secrets.token_urlsafe(12)
    with ui_command(dbname, env={"PGTRACK_UI_TOKEN": token}) as (proc, url):
        _check_token_served(proc, url, token)


def test_the_token_from_a_file_is_never_on_the_command_line(client, dbname, tmp_path):
    token = "file-" + secrets.token_urlsafe(12)
    path = tmp_path / "ui-token"
    path.write_text(token + "\n")  # as `echo` writes it
    path.chmod(0o600)
    with ui_command(dbname, "--token-file", str(path), env={"PGTRACK_UI_TOKEN": "not-this-one"}) as (proc, url):
        assert str(path).encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes()  # the file's name, not its token
        _check_token_served(proc, url, token)
    (tmp_path / "empty").write_text("\n")
    for missing in (tmp_path / "empty", tmp_path / "nosuchfile"):
        done = subprocess.run([*PGTRACK, "ui", "--no-browser", "--port", "0", "-d", dbname, "--token-file", str(missing)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and str(missing) in done.stderr and done.stdout == "", done.stderr


def test_the_browser_is_started_without_the_token_in_its_arguments(monkeypatch, tmp_path):
    """webbrowser starts the browser with the address as an argument, which ps shows to every account:
    it gets a file of this user's (0600) that redirects to the URL."""
    from pgtrack.ui import open_in_browser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    url = "http://127.0.0.1:8765/?token=s3cret-value"
    path = open_in_browser(url)
    assert opened == [path.as_uri()] and "s3cret" not in opened[0]
    assert path.parent == tmp_path / "pgtrack" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert html.escape(url) in path.read_text()


def test_a_browser_opens_the_dashboard_through_the_redirect_file(client, monkeypatch, tmp_path):
    """The redirect file, in Debian's chromium: the dashboard loads, and its own requests (the
    experiments list) are answered through the cookie the first reply set."""
    from pgtrack.ui import open_in_browser
    from test_ui import _chromium

    sync_api = pytest.importorskip("playwright.sync_api")
    pgtrack.Experiment(client, name="through the redirect")
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with serving(client) as server, sync_api.sync_playwright() as p:
        path = open_in_browser(url_of(server))
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(opened[0])
        page.wait_for_selector("#experiments tr[data-experiment-id]")
        assert "through the redirect" in page.locator("#experiments").inner_text()
        browser.close()
        path.unlink()
