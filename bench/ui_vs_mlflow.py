"""make bench, part 6: pgtrack's dashboard against MLflow's UI on the same data, by the same browser
script. Appends a section to bench/results-ui.md (run after ui_bench.py).

The data: 100 runs x 1,000 steps x 10 metrics (PGTRACK_BENCH_SCALE scales runs and steps), logged
into MLflow through its API (MlflowClient.log_batch) with MLflow's SQLAlchemy store on a database of
the same PostgreSQL server, and into pgtrack through run_add_metrics_batch. `mlflow server` serves
MLflow's UI on the loopback; `pgtrack ui` serves pgtrack's. Headless Chromium (Playwright, Debian's
chromium) opens each experiment's chart view and measures the milliseconds from navigation until
every metric's chart is drawn (MLflow: a chart container per metric holding a drawn SVG or canvas;
pgtrack: a polyline per chart), median of 5 loads (3 in the quick run), alternating, each in a fresh
browser context of one Chromium. Run with the mlflow virtualenv
(tools/bench.sh makes it): it needs `mlflow` (the full package, for its UI) and playwright.
"""
from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SCALE = float(os.environ.get("PGTRACK_BENCH_SCALE", "1"))
RUNS, STEPS, METRICS = max(5, int(100 * SCALE)), max(20, int(1000 * SCALE)), 10
LOADS = 5 if SCALE >= 1 else 3  # alternating loads of each dashboard (the quick run: 3)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NAMES = [f"m{i}" for i in range(METRICS)]


def value(run: int, step: int, metric: int) -> float:
    return 1.0 / (1 + step * (run + 1) * 0.001) + 0.01 * ((step * 7919 + metric * 31) % 100) / 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_mlflow(uri: str) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("bench-ui")
    start = time.perf_counter()
    for r in range(RUNS):
        run = client.create_run(exp)
        rid = run.info.run_id
        metrics = [Metric(name, value(r, s, i), 1_700_000_000_000 + s, s) for s in range(STEPS) for i, name in enumerate(NAMES)]
        for k in range(0, len(metrics), 1000):
            client.log_batch(rid, metrics=metrics[k:k + 1000],
                             params=[Param("lr", str(10 ** -(r % 4))), Param("seed", str(r))] if k == 0 else [])
        client.set_terminated(rid)
    print(f"MLflow: {RUNS * STEPS * METRICS:,} values through log_batch in {time.perf_counter() - start:.0f} s", flush=True)
    return exp


def load_pgtrack(client) -> int:
    import json

    import pgtrack

    for name in NAMES:
        client.add_metric(name)
    exp = pgtrack.Experiment(client, name="bench-ui-vs-mlflow")
    for r in range(RUNS):
        run = exp.get_run(args={"lr": 10 ** -(r % 4), "seed": r})
        rows = [{"step": s, **{name: value(r, s, i) for i, name in enumerate(NAMES)}} for s in range(STEPS)]
        client.execute("SELECT pgtrack.run_add_metrics_batch(%s, %s::jsonb)", (run.id, json.dumps(rows)))
        client.execute("SELECT pgtrack.run_stop(%s)", (run.id,))
    return exp.id


def load_time(browser, url: str, ready: str) -> float:
    """Milliseconds from navigation until `ready` holds, in a fresh browser context (a cold cache)."""
    context = browser.new_context(viewport={"width": 1600, "height": 3000}, bypass_csp=True)  # every chart on screen
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(ready, timeout=180_000, polling=50)
    elapsed = (time.perf_counter() - start) * 1000
    context.close()
    return elapsed


MLFLOW_READY = f"""() => {{
  // MLflow's chart view: a card per metric; drawn when its Plotly chart holds a plotted line
  const cards = [...document.querySelectorAll('[data-testid="experiment-view-compare-runs-card"]')];
  return cards.filter((card) => card.querySelector('.js-plotly-plot path.js-line')).length >= {METRICS};
}}"""
PGTRACK_READY = f"() => document.querySelectorAll('.chart polyline').length >= {METRICS}"


def main() -> None:
    import pgtrack
    from pgtrack.ui import make_server, url_of

    dbname = os.environ.get("PGDATABASE", "pgtrack")
    admin = pgtrack.Client(dbname=dbname)
    admin.execute("CREATE DATABASE mlflow")
    host, port = os.environ["PGHOST"], os.environ["PGPORT"]
    uri = f"postgresql+psycopg2://{os.environ.get('PGUSER', 'postgres')}@/mlflow?host={host}&port={port}"
    mlflow_exp = load_mlflow(uri)
    art = tempfile.mkdtemp(prefix="mlflow-artifacts-")
    mport = free_port()
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "mlflow"), "server", "--backend-store-uri", uri,
                               "--default-artifact-root", art, "--host", "127.0.0.1", "--port", str(mport), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ui = make_server(admin, "127.0.0.1", 0)
    threading.Thread(target=ui.serve_forever, daemon=True).start()
    try:
        pg_exp = load_pgtrack(admin)  # while MLflow's server starts
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", mport), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        mlflow_url = (f"http://127.0.0.1:{mport}/#/experiments/{mlflow_exp}/runs?compareRunsMode=CHART"
                      "&workflowType=machine_learning")
        pg_url = url_of(ui, f"/experiments/{pg_exp}#tab=charts")  # #token=...&tab=charts: with its access token
        ours, theirs = [], []
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            for r in range(LOADS):
                for name in (("pgtrack", "mlflow") if r % 2 == 0 else ("mlflow", "pgtrack")):
                    if name == "pgtrack":
                        ours.append(load_time(browser, pg_url, PGTRACK_READY))
                    else:
                        theirs.append(load_time(browser, mlflow_url, MLFLOW_READY))
            browser.close()
        a, b = statistics.median(ours), statistics.median(theirs)
        ratio = b / a
        lines = [
            "",
            "## 7. Time to charts: pgtrack's dashboard and MLflow's UI on the same data (bench/ui_vs_mlflow.py)",
            "",
            f"{RUNS} runs x {STEPS:,} steps x {METRICS} metrics ({RUNS * STEPS * METRICS:,} values), both on one PostgreSQL "
            f"server (MLflow {__import__('mlflow').__version__}, SQLAlchemy store, `mlflow server`); headless Chromium, "
            f"from navigation until every metric's chart is drawn, median of {LOADS} alternating loads (one browser, a fresh context per load):",
            "",
            "| dashboard | ms | |",
            "|---|---|---|",
            f"| pgtrack ui (charts tab: 20 runs per chart, min/max envelopes from SQL) | {a:.0f} | |",
            f"| MLflow UI (chart view of the experiment's runs) | {b:.0f} | |",
            f"| MLflow / pgtrack | {ratio:.1f}x | target >= 5x: {'met' if ratio >= 5 else 'missed'} |",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        with open(os.path.join(HERE, "results-ui.md"), "a") as f:
            f.write(text)
    finally:
        server.terminate()
        server.wait()
        ui.shutdown()
        shutil.rmtree(art, ignore_errors=True)


if __name__ == "__main__":
    main()
