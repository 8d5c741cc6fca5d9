"""`pgtrack ui`, tested as a person uses it: the real command serving a test database, Playwright
driving Debian's chromium (executable_path; no browser download). No console errors, one row per run,
the best row and the lost marker, sort and filter, charts drawn, a run written by another process
appearing without reload, the compare view, hostile strings shown as text; and the server's own
guards (read-only, Host check, the token, errors as pages). The browser opens the URL the command
printed (its fragment carries the access token, which the page keeps in sessionStorage for the tab),
as a person does, then browses in that tab; tests/python/ui/test_ui_access.py tests the token and Host
rules themselves."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from urllib.parse import quote, unquote, urlsplit

import pytest

import pgtrack

PGTRACK = [sys.executable, "-m", "pgtrack"]
HOSTILE = "</script><b>bold</b><img src=x onerror=alert(1)>"


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on this machine (make test installs Debian's chromium when run as root)")


def _fill(client, name="ui"):
    exp = pgtrack.Experiment(client, name=name)
    exp.declare_identifying("lr", "float")
    exp.declare_identifying("opt", "string", default="adam")
    for lr in (0.1, 0.01, 0.001):
        for opt in ("adam", "sgd"):
            run = exp.register({"lr": lr, "opt": opt}, on_duplicate="raise").run
            with run.track(heartbeat=None):
                for step in range(50):
                    run.add_metrics(step=step, loss=1.0 / (1 + step * lr), **{"val/acc": step * lr / 10})
    hostile = exp.register({"lr": 0.5, "opt": HOSTILE}, on_duplicate="raise").run
    try:
        with hostile.track(heartbeat=None):
            hostile.add_metrics(step=1, loss=5.0)
            raise RuntimeError(HOSTILE)
    except RuntimeError:
        pass
    dead = exp.register({"lr": 0.2}, on_duplicate="raise").run
    dead.start()
    dead.add_metrics(step=1, loss=0.9)
    client.execute("UPDATE pgtrack.runs SET time_updated = now() - interval '1 hour' WHERE id = %s", (dead.id,))
    return exp, dead


@pytest.fixture
def served(client, dbname):
    exp, dead = _fill(client)
    proc = subprocess.Popen([*PGTRACK, "ui", "--no-browser", "--port", "0", "-d", dbname], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PGDATABASE=dbname))
    url = proc.stdout.readline().strip()
    if not (url.startswith("http://127.0.0.1:") and "/#token=" in url and "?" not in url):
        proc.terminate()  # then its stderr ends
        pytest.fail(f"printed {url!r}; stderr: {proc.communicate(timeout=30)[1]}")
    yield url, exp, dead
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield instance
        instance.close()


def _origin(url):
    """http://host:port of a printed URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _token(url):
    """The token of a printed URL (#token=...), as the Authorization header a script sends it."""
    fragment = urlsplit(url).fragment
    assert fragment.startswith("token="), url
    return {"Authorization": "Bearer " + quote(unquote(fragment[len("token="):].split("&")[0]), safe="")}


def _page(browser, url, bypass_csp=False):
    """A page collecting console errors, that has opened the printed ``url`` first (the page keeps its
    token for the tab and takes it out of the address bar). bypass_csp lets the test's own wait_for_function
    expressions run (our Content-Security-Policy forbids eval, which Playwright uses for them); the
    other tests browse under the policy as served."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, bypass_csp=bypass_csp)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#experiments tr[data-experiment-id]")  # fetched with the token of the fragment
    assert page.url == _origin(url) + "/" and "token" not in page.url
    return page, errors


def test_the_experiment_page(served, browser, client, dbname):
    url, exp, dead = served
    base = _origin(url)
    page, errors = _page(browser, url, bypass_csp=True)
    page.goto(f"{base}/experiments/{exp.id}")
    page.wait_for_selector("#runs tr[data-run-id]")
    total = client.value("SELECT count(*) FROM pgtrack.runs WHERE experiment_id = %s", (exp.id,))
    assert page.locator("#runs tbody tr[data-run-id]").count() == total == 8
    # the lost run and the best run are marked
    assert page.locator(f'tr[data-run-id="{dead.id}"] .status-LOST').inner_text() == "LOST"
    best = client.value("SELECT run_id FROM pgtrack.best_runs(%s, 'loss') LIMIT 1", (exp.id,))
    assert page.locator("tr.best").get_attribute("data-run-id") == str(best)
    # hostile strings are text, never markup
    assert page.locator("#runs b, #runs img").count() == 0
    assert HOSTILE in page.locator("#runs").inner_text()
    # sort by the server: best loss ascending puts the best run first
    page.locator('th[data-column="best loss"]').click()
    page.wait_for_function(f"document.querySelector('#runs tbody tr').dataset.runId === '{best}'")
    # filter
    page.fill("#filter", "opt = sgd and lr < 0.05")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 2")
    assert errors == []
    page.fill("#filter", "nosuchcolumn > 1")
    page.wait_for_selector("#table .error")
    assert "unknown column" in page.locator("#table .error").inner_text()
    assert all("400" in e for e in errors)  # the refused filter's request, shown as a message
    errors.clear()
    page.fill("#filter", "")
    page.wait_for_function(f"document.querySelectorAll('#runs tbody tr').length === {total}")
    # a run written by another process appears without a reload, within 2 s (polled every second)
    before = page.locator("#runs tbody tr").count()
    writer = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import pgtrack
        c = pgtrack.Client(dbname={dbname!r})
        run = pgtrack.Experiment(c, name="ui").register({{"lr": 0.3}}, on_duplicate="raise").run
        with run.track(heartbeat=None):
            run.add_metrics(step=1, loss=0.7)
    """)], capture_output=True, text=True, timeout=60)
    assert writer.returncode == 0, writer.stderr
    written = time.monotonic()
    page.wait_for_function(f"document.querySelectorAll('#runs tbody tr').length === {before + 1}", timeout=5000)
    assert time.monotonic() - written < 2.5
    # charts: one per metric, lines drawn
    page.click('button[data-tab="charts"]')
    page.wait_for_selector('.chart[data-chart="loss"] polyline')
    assert page.locator('.chart[data-chart="val/acc"] polyline').count() >= 1
    page.click('button[data-tab="hyperparameters"]')
    page.wait_for_selector("#parallel polyline")
    page.click('button[data-tab="sweep"]')
    page.wait_for_selector("#sweep")
    assert "LOST" in page.locator("#sweep").inner_text()
    assert errors == []


def test_compare_and_run_pages(served, browser):
    url, exp, dead = served
    base = _origin(url)
    page, errors = _page(browser, url)
    page.goto(f"{base}/experiments/{exp.id}")
    page.wait_for_selector("#runs tr[data-run-id]")
    ids = [page.locator("#runs tbody tr").nth(i).get_attribute("data-run-id") for i in (0, 1)]
    for i in (0, 1):
        page.locator("#runs tbody tr").nth(i).locator("input[type=checkbox]").check()
    page.click("#compare")
    page.wait_for_selector("#diff")
    assert page.url.endswith(f"/compare?runs={ids[0]},{ids[1]}")
    assert page.locator("#diff td.diff").count() >= 1  # lr or opt differ
    page.wait_for_selector(".chart polyline")
    hostile = exp.find(lr=0.5, opt=HOSTILE)
    page.goto(f"{base}/runs/{hostile.id}")
    page.wait_for_selector("#traceback")
    assert HOSTILE in page.locator("#traceback").inner_text() and page.locator("main img, main b").count() == 0
    page.goto(f"{base}/experiments/999999")
    page.wait_for_selector("main .error")
    assert "does not exist" in page.locator("main .error").inner_text()
    assert [e for e in errors if "404" not in e] == []


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_the_server_guards(served, client):
    url, exp, _ = served
    base = _origin(url)
    token = _token(url)
    status, body, headers = _get(url)  # the printed URL: the shell (the fragment is not sent), no cookie
    assert status == 200 and "/static/app.js" in body and "Set-Cookie" not in headers
    assert _get(f"{base}/api/experiments")[0] == 403  # without the token
    status, body, headers = _get(f"{base}/api/experiments/{exp.id}/runs?limit=2&sort=id&desc=1", token)
    assert status == 200 and len(json.loads(body)["rows"]) == 2 and "Set-Cookie" not in headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert _get(f"{base}/api/experiments", {"Host": "evil.example:8765", **token})[0] == 403  # DNS rebinding
    status, body, _ = _get(f"{base}/api/experiments/{exp.id}/runs?filter=%29%28", token)
    assert status == 400 and "error" in json.loads(body)
    status, body, _ = _get(f"{base}/api/experiments/{exp.id}/curves?metric=nope", token)
    assert status == 400 and "unknown metric" in json.loads(body)["error"]
    assert _get(f"{base}/static/../../etc/passwd", token)[0] == 404


def test_a_given_token_is_required_and_queries_are_read_only(client):
    import threading

    from pgtrack.ui import make_server, url_of

    _fill(client, "tok")
    server = make_server(client, "127.0.0.1", 0, token="s3cret-token")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = url_of(server)
        assert url.endswith("/#token=s3cret-token")
        base = url.split("#")[0].rstrip("/")
        assert _get(f"{base}/api/experiments")[0] == 403
        assert _get(f"{base}/api/experiments?token=wrong")[0] == 403
        assert _get(f"{base}/api/experiments", {"Authorization": "Bearer wrong"})[0] == 403
        port = server.server_address[1]
        assert _get(f"{base}/api/experiments", {"Cookie": f"pgtrack_token_{port}=s3cret-token"})[0] == 403  # never a cookie
        status, _, headers = _get(f"{base}/api/experiments", {"Authorization": "Bearer s3cret-token"})
        assert status == 200 and "Set-Cookie" not in headers
        assert _get(f"{base}/api/experiments?token=s3cret-token")[0] == 200  # for scripts; the header is preferred
        board = server.dashboard
        assert board.client().value("SHOW default_transaction_read_only") == "on"
        import psycopg

        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # a write through the dashboard's connection
            board.client().execute("SELECT pgtrack.experiment('written by the dashboard')")
    finally:
        server.shutdown()
        server.server_close()
    assert client.value("SELECT count(*) FROM pgtrack.experiments WHERE name = 'written by the dashboard'") == 0
