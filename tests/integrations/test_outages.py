"""Each integration's callbacks through an outage (tests/python/faults.py's proxy refuses every
connection for 2 s, from before the first metric is logged, so the metric columns are made after it):
fit()/train()/optimize() go on and end normally, the run is COMPLETED, and every logged value is
stored. Before 0.3.0 a Lightning fit() died in epoch 0 with psycopg.OperationalError."""
import os
import sys
import time

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "python"))
from faults import Proxy, Script  # noqa: E402

LIGHTNING = """
import sys, time, torch, lightning
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from pgtrack.integrations.lightning import PgtrackLogger

torch.manual_seed(0)
x = torch.randn(64, 8); y = (x[:, 0] > 0).long()
data = DataLoader(TensorDataset(x, y), batch_size=8)

class MLP(lightning.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(8, 2)
    def training_step(self, batch, i):
        if self.global_step == 0:
            print("training", flush=True)
        time.sleep(0.1)
        loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train/loss", loss)
        return loss
    def validation_step(self, batch, i):
        self.log("val/acc@1", (self.net(batch[0]).argmax(1) == batch[1]).float().mean())
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

logger = PgtrackLogger(experiment="outage", identifying={"framework": "lightning"})
lightning.Trainer(max_epochs=4, logger=logger, log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                  enable_checkpointing=False, default_root_dir=sys.argv[1], accelerator="cpu").fit(MLP(), data, data)
print("done", flush=True)
"""

TRANSFORMERS = """
import sys, time, torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, TrainerCallback
from pgtrack.integrations.transformers import PgtrackCallback

torch.manual_seed(0)

class Data(torch.utils.data.Dataset):
    def __len__(self): return 64
    def __getitem__(self, i):
        ids = torch.randint(1, 40, (12,), generator=torch.Generator().manual_seed(i))
        return {"input_ids": ids, "attention_mask": torch.ones(12, dtype=torch.long), "labels": int(ids[0] > 20)}

class Pace(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):  # before the step's logs reach the callback
        if state.global_step == 1:
            print("training", flush=True)
        time.sleep(0.15)

model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                 intermediate_size=32, max_position_embeddings=16, num_labels=2))
args = TrainingArguments(output_dir=sys.argv[1], max_steps=16, logging_steps=1, per_device_train_batch_size=8,
                         report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True, seed=0)
Trainer(model=model, args=args, train_dataset=Data(),
        callbacks=[Pace(), PgtrackCallback(experiment="outage", identifying={"framework": "transformers"})]).train()
print("done", flush=True)
"""

KERAS = """
import time, numpy as np, keras
from pgtrack.integrations.keras import PgtrackCallback

rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32"); y = (x[:, 0] > 0).astype("float32")

class Pace(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):  # before the batch's logs reach the callback
        if batch == 0 and not hasattr(self, "started"):
            self.started = True
            print("training", flush=True)
        time.sleep(0.1)

model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x, y, epochs=4, batch_size=32, validation_split=0.25, verbose=0,
          callbacks=[Pace(), PgtrackCallback("outage", identifying={"framework": "keras"}, batch_every=1)])
print("done", flush=True)
"""

OPTUNA = """
import time, optuna
from pgtrack.integrations.optuna import optimize

optuna.logging.set_verbosity(optuna.logging.WARNING)
space = {"x": optuna.distributions.IntDistribution(0, 10**6)}

def objective(trial, run):
    if trial.number == 0:
        print("training", flush=True)
    for step in range(3):
        trial.report(trial.params["x"] * (3 - step), step)
        time.sleep(0.2)
    return float(trial.params["x"])

study = optuna.create_study(study_name="outage", sampler=optuna.samplers.RandomSampler(seed=0))
optimize(study, objective, space, n_trials=6)
print("done", flush=True)
"""

# (script, the metric column checked, how many values of it every run must have)
CASES = {
    "lightning": (LIGHTNING, "train/loss", 32),  # 8 batches x 4 epochs, logged every step
    "transformers": (TRANSFORMERS, "loss", 16),  # logging_steps=1, max_steps=16
    "keras": (KERAS, "batch/loss", 24),  # 6 training batches x 4 epochs, batch_every=1
    "optuna": (OPTUNA, "optuna/intermediate", 3),  # every trial reports 3 intermediate values
}


@pytest.mark.parametrize("framework", list(CASES))
def test_training_goes_on_through_an_outage(dbname, conn, tmp_path, framework):
    source, column, per_run = CASES[framework]
    env = dict(os.environ, PGDATABASE=dbname, PYTHONPATH=str(ROOT / "python"), KERAS_BACKEND="torch",
               TOKENIZERS_PARALLELISM="false", PGTRACK_SPILL_DIR=str(tmp_path / "spill"))
    with Proxy() as proxy:
        env.update(proxy.env)
        script = Script(source, str(tmp_path / "out"), env=env)
        script.wait_for("training", timeout=300)
        proxy.down()
        time.sleep(2)
        proxy.up()
        assert script.finish(timeout=600) == 0, script.stderr[-3000:]
    assert script.wait_for("done")
    assert proxy.refused > 0  # it did meet the outage
    runs = conn.execute("SELECT id, status::text FROM pgtrack.runs").fetchall()
    assert runs and all(status == "COMPLETED" for _, status in runs), runs
    for run_id, _ in runs:
        count = conn.execute(f'SELECT count("{column}") FROM pgtrack.metrics WHERE run_id = %s', (run_id,)).fetchone()[0]
        assert count == per_run, (framework, run_id, count)
