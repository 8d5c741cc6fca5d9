"""The Python main job (examples/sweep.py, run by make demo) completes every configuration exactly
once, although one worker is killed with SIGKILL midway; its report renders in a real browser."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _require_cluster, create_database, drop_database

SWEEP = Path(__file__).resolve().parents[3] / "examples" / "sweep.py"


@pytest.fixture(scope="module")
def demo():
    """A database holding the demo sweep, and what the sweep printed."""
    _require_cluster()
    db = create_database()
    env = dict(os.environ, PGDATABASE=db)
    done = subprocess.run([sys.executable, str(SWEEP), "--workers", "3", "--stale-after", "2"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    yield db, done.stdout
    drop_database(db)


def test_sweep_demo_recovers_the_killed_workers_run(demo):
    _, out = demo
    assert "enqueued 24 configurations; enqueueing 2 again (float noise, default seed) added 0" in out
    assert "*** killed worker-2 with SIGKILL" in out
    assert "(killed midway): COMPLETED, attempt 2" in out
    assert "24 of 24 configurations completed, 192 metric rows" in out
    assert "best configurations by validation loss" in out


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no chromium on this machine (make test installs Debian's chromium when run as root)")


def browse(url: str, *extra: str):
    done = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", *extra, url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def test_report_of_the_demo_renders_in_chromium(demo, tmp_path):
    """The report is the dashboard's views with the data inside: it opens from a file, offline, sorted
    by the primary metric with the best row highlighted, one row per run, charts drawn, and the
    table sorts and filters in the browser."""
    sync_api = pytest.importorskip("playwright.sync_api")
    db, _ = demo
    report = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "pgtrack", "-d", db, "report", "sweep-demo", "-o", str(report)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "24 runs, 3 charts" in done.stdout, done.stderr
    text = report.read_text()
    names = r'(xmlns(:\w+)?="http[^"]*"|"http://www.w3.org/2000/svg"|http://offline)'  # names, not addresses
    assert "http" not in re.sub(names, "", text)  # nothing to fetch (and the browser below fetches nothing)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors, requests = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
        page.goto(report.as_uri())
        page.wait_for_selector("#runs tbody tr[data-run-id]")
        rows = page.locator("#runs tbody tr")
        assert rows.count() == 24  # one row per run
        best = [float(x) for x in page.locator("#runs tbody tr td:nth-child(%d)" % (
            page.locator("#runs thead th").all_inner_texts().index("best val_loss \u25b2") + 1)).all_inner_texts()]
        assert best == sorted(best)  # opened sorted by the primary metric, best first
        assert rows.first.get_attribute("class") == "best"
        page.locator('th[data-column="hidden"]').click()  # sorting works in the browser, without a server
        page.wait_for_selector('th[data-column="hidden"]:has-text("\u25b2")')
        page.fill("#filter", "hidden = 64")
        page.wait_for_selector("#runs[data-matched='8']")
        page.click('button[data-tab="charts"]')
        page.wait_for_selector(".chart polyline")
        assert page.locator(".chart[data-chart]").count() == 3  # train_loss, val_loss, val_acc
        page.click('button[data-tab="hyperparameters"]')
        page.wait_for_selector("#parallel polyline")
        assert errors == [] and requests == []
        page.click('button[data-tab="runs"]')
        page.wait_for_selector("#runs tbody tr[data-run-id]")
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()
    assert (tmp_path / "report.png").stat().st_size > 20_000
