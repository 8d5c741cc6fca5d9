"""SQLTrack's documented examples (its README and "Track an experiment"), run as scripts with only the
import line changed (`import pgtrack as sqltrack`) and the connection taken from the environment
(PGDATABASE). The second example uses `epochs` without defining it (a bug of the document); the port
defines it. Metrics the example logs were never declared: pgtrack makes their columns."""
import os
import subprocess
import sys
import textwrap

MINIMAL = """
import pgtrack as sqltrack

def main():
    client = sqltrack.Client()
    experiment = sqltrack.Experiment(client, name="ImageNet")
    run = experiment.get_run()
    with run.track():
        pass

if __name__ == "__main__":
    main()
"""

TRACK = """
from random import random
import pgtrack as sqltrack

epochs = 90  # not defined in the document

def main():
    client = sqltrack.Client()
    experiment = sqltrack.Experiment(client, name="Very science, much data")
    run = experiment.get_run()
    with run.track():
        for epoch in range(90):
            metrics = {"train_loss": random(), "train_top1": random()}
            run.add_metrics(step=epoch, progress=epoch/epochs, **metrics)

if __name__ == "__main__":
    main()
"""


def test_sqltrack_examples_run(dbname, conn, tmp_path):
    for name, code in (("minimal.py", MINIMAL), ("track.py", TRACK)):
        script = tmp_path / name
        script.write_text(textwrap.dedent(code))
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              env=dict(os.environ, PGDATABASE=dbname), cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
    rows = conn.execute("SELECT e.name, r.status::text, count(m.run_id), count(m.train_top1) FROM pgtrack.runs r "
                        "JOIN pgtrack.experiments e ON e.id = r.experiment_id LEFT JOIN pgtrack.metrics m ON m.run_id = r.id "
                        "GROUP BY 1, 2 ORDER BY 1").fetchall()
    assert rows == [("ImageNet", "COMPLETED", 0, 0), ("Very science, much data", "COMPLETED", 90, 90)]
