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

SWEEP = Path(__file__).resolve().parents[2] / "examples" / "sweep.py"


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
    db, _ = demo
    report = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "pgtrack", "-d", db, "report", "sweep-demo", "-o", str(report)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "24 runs, 4 charts" in done.stdout, done.stderr
    assert "http" not in re.sub(r'xmlns(:\w+)?="http[^"]*"', "", report.read_text())  # nothing to fetch

    dom, console = browse(report.as_uri(), "--dump-dom")
    assert console == [], console  # no console message, errors included
    assert 'data-js-errors="0"' in dom
    table = dom[dom.index('<table id="runs"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") + table.count('<tr class="best">') == 1 + 24  # header + one row per run
    assert table.count('<tr class="best">') == 1  # the best run by the primary metric, highlighted
    assert dom.count("<svg") == 4  # curves of train_loss, val_loss, val_acc + the scatter
    # the sorting script runs in the browser: open sorted by the best validation loss
    sorted_dom, console = browse(report.as_uri() + "#sort=best%20val_loss", "--dump-dom")
    assert console == []
    best = [float(v) for v in re.findall(r'<td data-v="([0-9.e-]+)" class="num best">', sorted_dom)]
    assert len(best) == 24 and best == sorted(best)
    shot = tmp_path / "report.png"
    browse(report.as_uri(), f"--screenshot={shot}", "--window-size=1400,2000")
    assert shot.stat().st_size > 20_000
