"""Who may read the dashboard (issue 31, item 2). Every bind, the loopback included, needs the access
token: any account of the machine reaches 127.0.0.1, and a run's args, env and errors are private. The
printed URL carries the token in its fragment (#token=..., sent to no server); the page keeps it in
sessionStorage and sends it with every /api/ request as `Authorization: Bearer`; scripts may use
?token= on /api/ URLs. Never a cookie: browsers send a host's cookies to every port of it, so another
account's web server on 127.0.0.1:OTHER would read a cookie of ours. The page shell and its static
files hold no data and need no token. The Host header is parsed strictly (DNS rebinding); a token is
never on a command line (ps) nor in a file others may read or write; whatever a client sends is a 403,
never a 500 or a traceback."""
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

import pytest

import pgtrack
from hostile import CHARACTERS, CORPUS, MARKUP
from pgtrack.ui import make_server, url_of
from pgtrack.ui.server import auth_header

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


def token_in(url):
    """The token a printed URL carries in its fragment (#token=...&rest), or None."""
    for part in urlsplit(url).fragment.split("&"):
        if part.startswith("token="):
            return unquote(part[len("token="):], errors="surrogatepass")
    return None


def bearer(token):
    """The Authorization header the page sends: the token percent-encoded (UTF-8)."""
    return {"Authorization": "Bearer " + quote(token.encode("utf-8", "surrogatepass"), safe="")}


PAGES = ["/", "/experiments/1", "/runs/1", "/compare?runs=1,2", "/static/app.js", "/static/app.css"]


def _secret_run(client):
    return pgtrack.Experiment(client, name="private").get_run(args={"password": SECRET})


def test_the_api_needs_the_token_in_a_header_and_never_reads_a_cookie(client):
    run = _secret_run(client)
    with serving(client) as server, serving(client) as other:
        port = server.server_address[1]
        token = server.dashboard.token
        status, body, _ = request(server, f"/api/runs/{run.id}")  # any local account, no token
        assert status == 403 and body == FORBIDDEN and SECRET.encode() not in body
        # the printed URL: the token in the fragment (never sent), nothing in the query
        url = url_of(server)
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.path == "/" and parts.query == "" and token_in(url) == token
        assert url_of(server, "/experiments/3#tab=charts") == f"http://127.0.0.1:{port}/experiments/3#token={token}&tab=charts"
        # the shell and its assets hold no data: served without the token, with the policy, never a cookie
        for path in [*PAGES, "/favicon.ico"]:
            status, body, headers = request(server, path)
            assert status in (200, 204) and SECRET.encode() not in body, path
            assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["Referrer-Policy"] == "no-referrer"
            assert "Set-Cookie" not in headers, path
        status, body, headers = get(url)  # as a browser opens it: the fragment stays behind
        assert status == 200 and "<script src=\"/static/app.js\">" in body and "Set-Cookie" not in headers
        # /api/ answers the header: percent-encoded as the page sends it, as it is, any case of "Bearer"
        for headers in (auth_header(server), bearer(token), {"Authorization": f"Bearer {token}"},
                        {"Authorization": f"bearer   {token}  "}):
            status, body, replied = request(server, f"/api/runs/{run.id}", headers)
            assert status == 200 and SECRET.encode() in body and "Set-Cookie" not in replied, headers
        status, body, replied = request(server, f"/api/runs/{run.id}?token={quote(token)}")  # scripts, curl
        assert status == 200 and SECRET.encode() in body and "Set-Cookie" not in replied
        # a cookie never opens it: the old design's cookie, named for the port, is ignored
        for cookie in (f"pgtrack_token_{port}={token}", f"pgtrack_token_{port}={quote(token)}", f"token={token}",
                       f'prefs={{"a":1}}; x=a b; pgtrack_token_{port}={token}; z=1'):
            assert request(server, f"/api/runs/{run.id}", {"Cookie": cookie})[:2] == (403, FORBIDDEN), cookie
        # wrong schemes and other dashboards' tokens
        for value in (f"Basic {token}", f"Token {token}", token, "Bearer", "Bearer ", f"Bearer {token}x",
                      f"Bearer {other.dashboard.token}"):
            assert request(server, "/api/experiments", {"Authorization": value})[0] == 403, value
        assert request(server, f"/api/experiments?token={other.dashboard.token}")[0] == 403
        assert token_in(url_of(other)) != token
        # HEAD is GET without the body: the same answers
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("HEAD", "/api/experiments")
        assert connection.getresponse().status == 403
        connection.close()


def test_tokens_a_client_sends_are_refused_never_a_500(client, capsys):
    """Every corpus string, and non-ASCII ones (hmac.compare_digest raises TypeError on such str), in
    ?token=, in the Authorization header (percent-encoded, as raw UTF-8 bytes, and as the whole
    header), and in the old cookie: a 403 and nothing on stderr."""
    with serving(client) as server:
        name = f"pgtrack_token_{server.server_address[1]}"
        for value in CORPUS + ["Ünïcödé", "é" * 40, "\U0001F600", "%", "%zz", "%ff%fe", "+"]:
            raw = value.encode("utf-8", "surrogatepass")
            quoted = quote(raw, safe="")
            sent = [("/api/experiments?token=" + quoted, {}), ("/api/experiments", {"Authorization": f"Bearer {quoted}"}),
                    ("/api/experiments", {"Cookie": f"{name}={quoted}"})]
            if b"\r" not in raw and b"\n" not in raw:  # as bytes, not percent-encoded (http.client refuses CR, LF)
                sent += [("/api/experiments", {"Authorization": b"Bearer " + raw}), ("/api/experiments", {"Authorization": raw}),
                         ("/api/experiments", {"Cookie": name.encode() + b"=" + raw})]
            for path, headers in sent:
                status, body, _ = request(server, path, headers)
                assert (status, body) == (403, FORBIDDEN), (value, path, headers)
    assert "Traceback" not in capsys.readouterr().err


def test_a_given_token_may_be_any_text(client):
    """Given (from a file or PGTRACK_UI_TOKEN), a token with markup, spaces, or non-ASCII characters
    works through the printed URL's fragment and the header the page sends, and ?token=; an empty or
    unencodable one is refused."""
    for token in MARKUP + [t for t in CHARACTERS if t.strip() and t != "\ud800lone"] + ["50%off", "a+b", "x&token=y#z"]:
        with serving(client, token=token) as server:
            url = url_of(server, "/experiments/1#tab=charts")
            assert token_in(url) == token and urlsplit(url).fragment.endswith("&tab=charts"), token
            assert auth_header(server)["Authorization"].isascii()
            assert request(server, "/api/experiments", auth_header(server))[0] == 200, token
            assert request(server, "/api/experiments?token=" + quote(token, safe=""))[0] == 200, token
            assert request(server, "/api/experiments", bearer(token + "x"))[0] == 403
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
        token = auth_header(server)
        for host in BAD_HOSTS:
            assert request(server, "/api/experiments", {"Host": host.format(port=port), **token})[0] == 403, host
            for page in ("/", "/static/app.js"):  # the shell too: nothing answers a rebound name
                assert request(server, page, {"Host": host.format(port=port)})[0] == 403, (host, page)
        for host in GOOD_HOSTS:
            assert request(server, "/api/experiments", {"Host": host.format(port=port), **token})[0] == 200, host
            assert request(server, "/", {"Host": host.format(port=port)})[0] == 200, host
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
        assert url.startswith(f"http://127.0.0.2:{port}/#token=")
        assert get(url)[0] == 200
        token = auth_header(server)
        assert request(server, "/api/experiments", {"Host": f"127.0.0.2:{port}", **token})[0] == 200
        assert request(server, "/api/experiments", {"Host": f"localhost:{port}", **token})[0] == 403


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
    """The printed URL carries ``token`` in its fragment and nowhere else; the header with it opens the
    API, another token does not; the server's command line does not hold it."""
    if token_in(url) != token or token in urlsplit(url).query:
        proc.terminate()  # then its stderr ends
        pytest.fail(f"printed {url!r}; stderr: {proc.communicate(timeout=30)[1]}")
    api = url.split("#")[0].rstrip("/") + "/api/experiments"
    assert get(urllib.request.Request(api, headers=bearer(token)))[0] == 200
    assert get(urllib.request.Request(api, headers=bearer(token + "x")))[0] == 403
    assert get(api)[0] == 403
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
    (tmp_path / "empty").chmod(0o600)
    for missing in (tmp_path / "empty", tmp_path / "nosuchfile"):
        done = subprocess.run([*PGTRACK, "ui", "--no-browser", "--port", "0", "-d", dbname, "--token-file", str(missing)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and str(missing) in done.stderr and done.stdout == "", done.stderr


def test_a_token_file_others_may_read_or_write_is_refused(client, dbname, tmp_path):
    """The token file is trusted like a config file (your own regular file, no link, no one else may
    write it) and, since it is a secret, no one else may read it either: refused with the reason, the
    dashboard not started."""
    token = "file-" + secrets.token_urlsafe(12)
    cases = {}
    for mode in (0o644, 0o640, 0o604, 0o620, 0o602, 0o666):
        path = cases[f"mode {oct(mode)}"] = tmp_path / f"mode-{oct(mode)}"
        path.write_text(token)
        path.chmod(mode)
    own = tmp_path / "own"
    own.write_text(token)
    own.chmod(0o600)
    (tmp_path / "link").symlink_to(own)
    cases["a symbolic link"] = tmp_path / "link"
    cases["a directory"] = tmp_path
    if os.geteuid() == 0:  # a file of another account's, mode 0600
        theirs = cases["another account's"] = tmp_path / "theirs"
        theirs.write_text(token)
        theirs.chmod(0o600)
        os.chown(theirs, 65534, 65534)
    for what, path in cases.items():
        done = subprocess.run([*PGTRACK, "ui", "--no-browser", "--port", "0", "-d", dbname, "--token-file", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 4 and done.stdout == "", (what, done.stderr)
        assert f"refusing the token file {path}:" in done.stderr and "Traceback" not in done.stderr, (what, done.stderr)
        assert token not in done.stderr
        if "mode" in what:
            assert ("others may read it" in done.stderr or "others may write it" in done.stderr) and "chmod 600" in done.stderr
    assert "symbolic link" in subprocess.run([*PGTRACK, "ui", "--no-browser", "-d", dbname, "--token-file", str(tmp_path / "link")],
                                             capture_output=True, text=True, timeout=60).stderr
    with ui_command(dbname, "--token-file", str(own)) as (proc, url):  # 0600, yours: served
        _check_token_served(proc, url, token)


def test_the_browser_is_started_without_the_token_in_its_arguments(monkeypatch, tmp_path):
    """webbrowser starts the browser with the address as an argument, which ps shows to every account:
    it gets a file of this user's (0600) that redirects to the URL."""
    from pgtrack.ui import open_in_browser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    url = "http://127.0.0.1:8765/#token=s3cret-value"
    path = open_in_browser(url)
    assert opened == [path.as_uri()] and "s3cret" not in opened[0]
    assert path.parent == tmp_path / "pgtrack" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert html.escape(url) in path.read_text()


def test_a_browser_opens_the_dashboard_through_the_redirect_file(client, monkeypatch, tmp_path):
    """The redirect file, in Debian's chromium: the dashboard loads (its requests carry the token the
    fragment brought), and the address bar no longer shows it."""
    from pgtrack.ui import open_in_browser
    from test_ui import _chromium

    sync_api = pytest.importorskip("playwright.sync_api")
    pgtrack.Experiment(client, name="through the redirect")
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with serving(client) as server, sync_api.sync_playwright() as p:
        path = open_in_browser(url_of(server))
        assert "#token=" in path.read_text()
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(opened[0])
        page.wait_for_selector("#experiments tr[data-experiment-id]")
        assert "through the redirect" in page.locator("#experiments").inner_text()
        assert server.dashboard.token not in page.url and page.url == f"http://127.0.0.1:{server.server_address[1]}/"
        browser.close()
        path.unlink()


class _Recorder(BaseHTTPRequestHandler):
    """Another account's web server on 127.0.0.1: records every request line and header it is sent."""

    seen: list = []

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.seen.append((self.requestline, str(self.headers)))
        body = b"<!DOCTYPE html><title>elsewhere</title><p id=elsewhere>another server</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_browser_sends_the_token_to_no_other_port(client):
    """As a person uses it, in chromium: the printed URL (#token=) loads the data; the address bar
    then holds no token; a run page and back, and a full load of another page in the tab, still load
    (sessionStorage); the page's requests carry the header, no reply sets a cookie, the token is in no
    request's URL. Then the tab visits another server of 127.0.0.1 (another port, as another local
    account would run): it receives the token in no header (the cookie design sent it
    `pgtrack_token_PORT`), and its page cannot read this one's sessionStorage. The legacy ?token= page
    URL works too, and is taken out of the address bar the same way."""
    from test_ui import _chromium

    sync_api = pytest.importorskip("playwright.sync_api")
    experiment = pgtrack.Experiment(client, name="other ports")
    run = experiment.get_run(args={"password": SECRET})
    run.add_metrics(step=1, loss=0.5)
    run.add_metrics(step=2, loss=0.4)
    recorder = ThreadingHTTPServer(("127.0.0.1", 0), type("Recording", (_Recorder,), {"seen": []}))
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    elsewhere = f"http://127.0.0.1:{recorder.server_address[1]}/page"
    try:
        with serving(client) as server, sync_api.sync_playwright() as p:
            token = server.dashboard.token
            base = f"http://127.0.0.1:{server.server_address[1]}"
            received = []  # what the dashboard's server was sent: (path, headers)
            handler = server.RequestHandlerClass
            answer = handler.do_GET
            handler.do_GET = lambda self: (received.append((self.path, self.headers)), answer(self))
            browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            context = browser.new_context()
            page = context.new_page()
            cookies, errors = [], []
            page.on("response", lambda r: cookies.append(r.url) if "set-cookie" in r.headers else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url_of(server))
            page.wait_for_selector("#experiments tr[data-experiment-id]")
            assert page.url == f"{base}/" and token not in page.url
            page.click(f'a[href="/experiments/{experiment.id}"]')
            page.wait_for_selector("#runs tr[data-run-id]")
            page.click(f'#runs a[href="/runs/{run.id}"]')
            page.wait_for_selector("#fields")
            assert SECRET in page.locator("main").inner_text()
            page.go_back()
            page.wait_for_selector("#runs tr[data-run-id]")
            page.goto(f"{base}/runs/{run.id}")  # a full load in the same tab: the token kept in sessionStorage
            page.wait_for_selector("#fields")
            page.goto(url_of(server, f"/experiments/{experiment.id}#tab=charts"))  # a printed URL with a tab
            page.wait_for_selector('.chart[data-chart="loss"] polyline')
            assert page.url == f"{base}/experiments/{experiment.id}#tab=charts"
            legacy = f"/compare?token={quote(token, safe='')}&runs={run.id}"  # the URL older versions printed
            page.goto(base + legacy)
            page.wait_for_selector("#diff")
            assert page.url == f"{base}/compare?runs={run.id}"
            # every data request carried the header; none carried a cookie; no path but the legacy one the token
            api = [headers for path, headers in received if path.startswith("/api/")]
            assert len(api) >= 5 and all(h.get("Authorization") == f"Bearer {quote(token, safe='')}" for h in api)
            assert [h for _, h in received if "Cookie" in h] == []
            assert [path for path, _ in received if quote(token, safe="") in path or token in path] == [legacy]
            assert cookies == [] and context.cookies() == []
            # the same browser, then the same tab, at another port of 127.0.0.1
            other = context.new_page()
            other.goto(elsewhere)
            other.wait_for_selector("#elsewhere")
            page.evaluate(f"() => {{ setTimeout(() => {{ location.href = {elsewhere!r}; }}, 0); }}")  # the dashboard's tab goes there
            page.wait_for_url(elsewhere)
            page.wait_for_selector("#elsewhere")
            assert page.evaluate("() => JSON.stringify(sessionStorage) + document.cookie") == "{}"
            seen = recorder.RequestHandlerClass.seen
            assert len(seen) >= 2
            for line, headers in seen:
                assert token not in line and quote(token, safe="") not in line, line
                assert token not in headers and quote(token, safe="") not in headers, headers
                assert "pgtrack" not in headers.lower() and base not in headers, headers  # no cookie, no Referer of ours
            # a new tab has no token: it says so, and asks the API nothing
            asked = len(received)
            fresh = context.new_page()
            fresh.goto(f"{base}/experiments/{experiment.id}")
            fresh.wait_for_selector("body[data-ready=error]")
            assert "open the URL that pgtrack ui printed (it carries the access token)" in fresh.locator("main").inner_text()
            assert [path for path, _ in received[asked:] if path.startswith("/api/")] == []
            assert errors == []
            browser.close()
    finally:
        recorder.shutdown()
        recorder.server_close()
