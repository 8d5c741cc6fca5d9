"""The integrations' tests share tests/python's fixtures (a fresh database on the throwaway cluster),
and run each framework end to end in a subprocess of this environment's interpreter."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import importlib.util

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("pgtrack_suite_conftest", HERE.parent / "python" / "conftest.py")
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
client, conn, dbname = _suite.client, _suite.conn, _suite.dbname  # the fixtures
create_database, drop_database = _suite.create_database, _suite.drop_database

ROOT = HERE.parents[1]


def run_script(code: str, dbname: str, *args: str, timeout: float = 600, signal_after: str = None, env=None):
    """(returncode, stdout, stderr) of ``code`` run by this interpreter with pgtrack from the checkout."""
    import signal

    full = dict(os.environ, PGDATABASE=dbname, PYTHONPATH=str(ROOT / "python"), PYTHONUNBUFFERED="1",
                KERAS_BACKEND="torch", TOKENIZERS_PARALLELISM="false", **(env or {}))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = []
    if signal_after:
        for line in proc.stdout:
            seen.append(line)
            if line.strip() == signal_after:
                proc.send_signal(signal.SIGTERM)
                break
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(seen) + out, err
