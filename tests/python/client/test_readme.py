"""The README's examples are tests: every ```python and ```sql block runs verbatim against a fresh
database. Python blocks run in order in one interpreter (as a reader pastes them into one session),
SQL blocks in order in one psql session (they share \\gset variables). A block that is not meant to
run says so in the README with ``<!-- not run: reason -->`` on the line before its fence."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import create_database, drop_database

README = Path(__file__).resolve().parents[3] / "README.md"
FENCE = re.compile(r"(?P<marker><!-- not run: [^>]+-->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def blocks(lang: str):
    return [m.group("body") for m in FENCE.finditer(README.read_text()) if m.group("lang") == lang and not m.group("marker")]


def test_the_readme_has_runnable_blocks():
    assert len(blocks("python")) >= 2 and len(blocks("sql")) >= 2
    skipped = [m for m in FENCE.finditer(README.read_text()) if m.group("marker")]
    assert all(m.group("lang") in ("python", "sql") for m in skipped)  # markers only where they mean something


@pytest.fixture
def fresh():
    name = create_database(setup=False)
    with __import__("psycopg").connect(dbname=name, autocommit=True) as conn:  # what `pgtrack setup` does
        conn.execute("CREATE EXTENSION pgtrack")
        conn.execute("SELECT pgtrack.setup()")
    yield name
    drop_database(name)


def test_python_blocks_run_verbatim(fresh, tmp_path):
    script = tmp_path / "readme.py"
    script.write_text("\n\n".join(blocks("python")))
    env = dict(os.environ, PGDATABASE=fresh, PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def test_sql_blocks_run_verbatim(fresh, tmp_path):
    script = tmp_path / "readme.sql"
    script.write_text("\n".join(blocks("sql")))
    done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", fresh, "-f", str(script)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ERROR" not in done.stderr
