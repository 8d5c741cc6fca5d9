"""`pgtrack report` with markup in every value (issue 31, item 7a). The report embeds its data as JSON
in a <script> element; a value holding "<!--<script>" there put the HTML parser in its double-escaped
script state, which swallowed the page's own scripts: a blank report. Now no "<", ">" or "&" of the
data reaches the page unescaped, and the report renders every hostile value as text, in chromium."""
import json
import re
import subprocess
import sys

import pytest

import pgtrack
from hostile import MARKUP
from test_ui import _chromium


def _experiment_of_markup(client):
    """An experiment whose name, comment and tags, and whose runs' identifying values, tags, comments,
    args and errors are the corpus' markup."""
    exp = pgtrack.Experiment(client, name="markup <!--<script>", comment=MARKUP[1], tags=MARKUP)
    exp.declare_identifying("opt", "string")
    for i, value in enumerate(MARKUP):
        run = exp.register({"opt": value}, on_duplicate="raise").run
        run.set_tags(value)
        run.set_comment(value)
        run.add_args({"arg": value, value: i})
        try:
            with run.track(heartbeat=None):
                run.add_metrics(step=1, loss=float(i))
                if i % 2:
                    raise RuntimeError(value)
        except RuntimeError:
            pass
    return exp


def test_markup_in_any_value_leaves_the_report_whole(client, dbname, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    exp = _experiment_of_markup(client)
    report = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "pgtrack", "-d", dbname, "report", str(exp.id), "-o", str(report)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_selector("#runs tbody tr[data-run-id]", timeout=15000)  # before: a blank page
        assert page.locator("#runs tbody tr[data-run-id]").count() == len(MARKUP)
        shown = page.locator("#runs").inner_text()
        assert all(value in shown for value in MARKUP)  # as text
        assert page.locator("main b, main img, main script").count() == 0  # never as markup
        assert page.locator("body").get_attribute("data-js-errors") == "0" and errors == []
        assert page.title() == "pgtrack report: markup <!--<script>"
        browser.close()
    text = report.read_text()
    data = re.search(r'<script type="application/json" id="pgtrack-data">(.*?)</script>', text, re.S).group(1)
    assert not set("<>&\u2028\u2029") & set(data)  # nothing in the data is markup
    assert json.loads(data)["experiment"]["name"] == "markup <!--<script>"
