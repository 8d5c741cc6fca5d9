"""pgtrack as an Optuna study's run registry: trials are runs keyed by their parameters; a
configuration pgtrack completed is answered from its stored value, not trained again; intermediate
values logged and pruning reported; two processes optimising one study never train a configuration
twice."""
import json
import subprocess
import sys

from conftest import ROOT, run_script

SCRIPT = """
import json, sys, optuna
import pgtrack
from pgtrack.integrations.optuna import optimize

storage, n = sys.argv[1], int(sys.argv[2])
optuna.logging.set_verbosity(optuna.logging.WARNING)
space = {"layers": optuna.distributions.IntDistribution(1, 3),
         "act": optuna.distributions.CategoricalDistribution(["relu", "tanh"]),
         "lr": optuna.distributions.CategoricalDistribution([0.1, 0.01])}

def objective(trial, run):
    p = trial.params
    value = p["layers"] * (1.0 if p["act"] == "relu" else 2.0) * p["lr"]
    for step in range(3):
        trial.report(value * (3 - step), step)
        if p["layers"] == 3 and p["act"] == "tanh" and step == 1:
            raise optuna.TrialPruned()
    return value

study = optuna.create_study(study_name="search", storage=storage, load_if_exists=True,
                            sampler=optuna.samplers.RandomSampler(seed=int(sys.argv[3])))
print(json.dumps(optimize(study, objective, space, n_trials=n)))
"""


def test_completed_configurations_are_answered_not_trained(dbname, conn, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    code, out, err = run_script(SCRIPT, dbname, storage, "40", "1")
    assert code == 0, err[-3000:]
    counts = json.loads(out.strip().splitlines()[-1])
    distinct = conn.execute("SELECT count(*) FROM pgtrack.runs").fetchone()[0]
    assert distinct <= 12 and sum(counts.values()) == 40 and counts["failed"] == 0
    completed = conn.execute("SELECT count(*) FROM pgtrack.runs WHERE status = 'COMPLETED'").fetchone()[0]
    assert counts["trained"] == completed  # each completed configuration trained once
    assert counts["answered"] == 40 - counts["trained"] - counts["pruned"]  # every repeat answered from pgtrack
    assert counts["answered"] > 0
    rows = conn.execute("SELECT identity, status::text, error FROM pgtrack.runs ORDER BY id").fetchall()
    assert {r[1] for r in rows} <= {"COMPLETED", "CANCELLED"}
    pruned = [r for r in rows if r[1] == "CANCELLED"]
    assert all(r[0]["layers"] == 3 and r[0]["act"] == "tanh" and r[2] == "pruned at step 1" for r in pruned)
    assert conn.execute('SELECT count(*) FROM pgtrack.metrics WHERE "optuna/intermediate" IS NOT NULL').fetchone()[0] >= 3
    assert conn.execute('SELECT count(*) FROM pgtrack.metrics WHERE "optuna/value" IS NOT NULL').fetchone()[0] == \
        sum(1 for r in rows if r[1] == "COMPLETED")


def test_two_processes_share_one_study_without_training_twice(dbname, conn, tmp_path):
    import os
    import textwrap

    import optuna

    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(study_name="search", storage=storage)  # made once: Optuna's schema set-up is not concurrent
    env = dict(os.environ, PGDATABASE=dbname, PYTHONPATH=str(ROOT / "python"))
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(SCRIPT), storage, "15", str(seed)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (2, 3)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outputs]
    trained = sum(json.loads(o.strip().splitlines()[-1])["trained"] for o, _ in outputs)
    completed = conn.execute("SELECT count(*) FROM pgtrack.runs WHERE status = 'COMPLETED'").fetchone()[0]
    assert trained == completed  # every completed configuration trained exactly once across both processes
    assert conn.execute("SELECT max(attempt) FROM pgtrack.runs WHERE status = 'COMPLETED'").fetchone()[0] == 1
