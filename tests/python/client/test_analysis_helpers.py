"""pgtrack.queries, pgtrack.pandas, pgtrack.notebook, pgtrack.plot; optional extras fail clearly."""
import datetime as dt
import importlib
import sys

import pytest

import pgtrack
from pgtrack import notebook, queries


@pytest.fixture
def sweep(client):
    exp = pgtrack.Experiment(client, name="helpers")
    exp.declare_identifying("lr", "float")
    runs = []
    for lr in (0.1, 0.2, 0.3):
        run = exp.register({"lr": lr}, on_duplicate="raise").run
        with run.track():
            for step in range(300):
                run.add_metrics(step=step, loss=lr + 1 / (step + 1))
        runs.append(run)
    return exp, runs


def test_queries_with_client_and_cursor(client, conn, sweep):
    exp, runs = sweep
    assert queries.first_value(client, "SELECT count(*) FROM pgtrack.runs") == 3
    assert queries.first_row(conn.cursor(), "SELECT id, status::text FROM pgtrack.runs ORDER BY id") == (runs[0].id, "COMPLETED")
    assert queries.first_values(client, "SELECT id FROM pgtrack.runs ORDER BY id") == [r.id for r in runs]
    assert queries.first_row(client, "SELECT 1 WHERE false") is None and queries.first_value(client, "SELECT 1 WHERE false") is None


def test_query_dataframe_and_best_runs(client, conn, sweep):
    pd = pytest.importorskip("pandas")
    from pgtrack.pandas import best_runs, query_dataframe

    exp, runs = sweep
    frame = query_dataframe(client, "SELECT id, status FROM pgtrack.runs WHERE experiment_id = %s ORDER BY id", (exp.id,))
    assert list(frame.columns) == ["id", "status"] and len(frame) == 3
    assert len(query_dataframe(conn.cursor(), "SELECT 1 AS one")) == 1
    best = best_runs(client, exp.id, "loss")
    assert list(best.columns[:3]) == ["run_id", "status", "lr"] and best["lr"].tolist() == [0.1, 0.2, 0.3]


def test_everything_is_html_escaped():
    evil = "<script>alert(1)</script>"
    tags = {evil: True, "ok": True}
    copy = dict(tags)
    for html in (notebook.format_tags(tags), notebook.format_string(evil), notebook.format_status(evil),
                 notebook.format_float(evil), notebook.format_string(evil, ellipsis=False)):
        assert "<script>" not in html and "&lt;script&gt;" in html
    assert tags == copy  # SQLTrack's format_tags mutated its input
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"status": ["RUNNING", evil], "tags": [tags, None], "comment": [evil, None],
                          "progress": [0.5, None], evil: [1, 2]})
    out = notebook.format_dataframe(frame)
    assert "<script>" not in out.to_html(escape=False)
    assert "<b>50.0%</b>" in out["progress"][0] and out["progress"][1] == "--"


def test_formatters():
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    assert "3 hours ago" in notebook.format_datetime_relative(now - dt.timedelta(hours=3), now=now)
    assert notebook.format_timedelta(dt.timedelta(seconds=0.4)) == "0.4 seconds"
    assert notebook.format_timedelta(dt.timedelta(days=2)) == "2 days"
    assert notebook.format_float(1 / 3) == "0.33" and notebook.format_float(None) == "--"
    assert notebook.format_bool(True) == "\u2714" and notebook.format_marked(True) and notebook.format_marked(False) == ""
    assert notebook.textcolor("gpu") == notebook.textcolor("gpu")  # stable across processes (not hash())
    assert "pgtrack-failed" in notebook.format_status("OUT_OF_MEMORY") and "pgtrack-completed" in notebook.format_status("COMPLETED")
    assert "\u2b50" in notebook.format_tags({"marked": True})


def test_plot_curves_downsampled_in_sql(client, sweep):
    pytest.importorskip("matplotlib")
    from pgtrack.plot import curves

    exp, runs = sweep
    fig = curves(client, runs, "loss", buckets=50)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3 and all(len(line.get_xdata()) == 50 for line in lines)
    assert fig.axes[0].get_ylabel() == "loss"
    with pytest.raises(pgtrack.SchemaValidationError):
        curves(client, [runs[0].id], "nope")


def test_missing_extra_names_the_pip_install(monkeypatch):
    real = importlib.import_module

    def fake(name, *args):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r'pip install "pgtrack\[analysis\]"'):
        pgtrack.pandas.query_dataframe(None, "SELECT 1")


def test_import_pgtrack_needs_only_psycopg():
    import subprocess

    code = ("import sys, pgtrack, pgtrack.notebook, pgtrack.queries, pgtrack.cli; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'numpy', 'docopt') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
