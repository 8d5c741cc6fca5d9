"""PgtrackLogger with the real PyTorch Lightning on CPU: a tiny MLP on synthetic data, end to end in a
subprocess; metric names as Lightning writes them; a rerun of a completed configuration skipped;
an exception FAILED with its traceback; SIGTERM CANCELLED."""
import pytest

from conftest import run_script

SCRIPT = """
import sys, time, torch, lightning
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import pgtrack
from pgtrack.integrations.lightning import PgtrackLogger

mode = sys.argv[1]
torch.manual_seed(0)
x = torch.randn(256, 8); y = (x[:, 0] + x[:, 1] > 0).long()
data = DataLoader(TensorDataset(x, y), batch_size=32)

class MLP(lightning.LightningModule):
    def __init__(self, lr=0.05, hidden=16):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    def training_step(self, batch, i):
        if mode == "fail" and self.current_epoch == 1:
            raise RuntimeError("exploding gradients")
        if mode == "sigterm" and self.current_epoch == 1:
            print("training", flush=True); time.sleep(60)
        xb, yb = batch
        loss = nn.functional.cross_entropy(self.net(xb), yb)
        self.log("train/loss", loss)
        self.log("lr-SGD", self.hparams.lr)
        return loss
    def validation_step(self, batch, i):
        xb, yb = batch
        self.log("val/acc@1", (self.net(xb).argmax(1) == yb).float().mean())
        self.log("c_index", 0.7)  # scikit-survival's name: crashed fit() before 0.3.0
        self.log("xmin", 1.0)  # no column can be named so: stored as xmin_, with a warning
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

logger = PgtrackLogger(experiment="lightning", identifying={"lr": 0.05, "mode": mode})
if logger.completed:
    print("skipped"); sys.exit(0)
trainer = lightning.Trainer(max_epochs=3, logger=logger, log_every_n_steps=2, enable_progress_bar=False,
                            enable_model_summary=False, default_root_dir=sys.argv[2], accelerator="cpu")
trainer.fit(MLP(), data, data)
print("run", logger.run.id)
"""


def _run(conn, mode):
    return conn.execute("SELECT r.status::text, r.args, r.error FROM pgtrack.runs r JOIN pgtrack.experiments e "
                        "ON e.id = r.experiment_id WHERE e.name = 'lightning' AND r.identity ->> 'mode' = %s", (mode,)).fetchone()


def test_a_fit_logs_under_lightnings_names_and_completes(dbname, conn, tmp_path):
    code, out, err = run_script(SCRIPT, dbname, "ok", str(tmp_path))
    assert code == 0, err[-3000:]
    status, args, error = _run(conn, "ok")
    assert status == "COMPLETED" and args["lr"] == 0.05 and args["hidden"] == 16
    assert args.get("checkpoint_best", "").endswith(".ckpt")
    names = {r[0] for r in conn.execute("SELECT name FROM pgtrack.metric_columns()")}
    assert {"train/loss", "val/acc@1", "lr-SGD", "c_index", "xmin_"} <= names
    assert "'xmin' is stored as 'xmin_'" in err
    assert conn.execute('SELECT count("train/loss") FROM pgtrack.metrics').fetchone()[0] >= 3
    again = run_script(SCRIPT, dbname, "ok", str(tmp_path))
    assert again[0] == 0 and again[1].strip() == "skipped"  # the same configuration: not trained again
    assert conn.execute("SELECT count(*) FROM pgtrack.runs").fetchone()[0] == 1


def test_an_exception_fails_the_run_with_its_traceback(dbname, conn, tmp_path):
    code, out, err = run_script(SCRIPT, dbname, "fail", str(tmp_path))
    assert code != 0 and "exploding gradients" in err
    status, _, error = _run(conn, "fail")
    assert status == "FAILED" and "exploding gradients" in error and "training_step" in error


def test_sigterm_cancels_the_run(dbname, conn, tmp_path):
    code, out, err = run_script(SCRIPT, dbname, "sigterm", str(tmp_path), signal_after="training")
    status, _, error = _run(conn, "sigterm")
    assert status == "CANCELLED", (code, status, error, err[-2000:])
