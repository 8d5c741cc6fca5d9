"""The Python main job (examples/sweep.py, run by make demo) completes every configuration exactly
once, although one worker is killed with SIGKILL midway."""
import os
import subprocess
import sys
from pathlib import Path

SWEEP = Path(__file__).resolve().parents[2] / "examples" / "sweep.py"


def test_sweep_demo_recovers_the_killed_workers_run(dbname):
    env = dict(os.environ, PGDATABASE=dbname)
    done = subprocess.run([sys.executable, str(SWEEP), "--workers", "3", "--stale-after", "2"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "enqueued 24 configurations; enqueueing 2 again (float noise, default seed) added 0" in out
    assert "*** killed worker-2 with SIGKILL" in out
    assert "(killed midway): COMPLETED, attempt 2" in out
    assert "24 of 24 configurations completed, 192 metric rows" in out
    assert "best configurations by validation loss" in out
