"""PgtrackCallback with the real Transformers Trainer on CPU: a tiny BERT built from a config (no
weights from a hub) on synthetic token ids, end to end in a subprocess; report_to="pgtrack" through
register(); an exception escaping train() FAILED with its traceback."""
from conftest import run_script

SCRIPT = """
import sys, torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, TrainerCallback
import pgtrack
from pgtrack.integrations import transformers as pt

mode, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)

class Data(torch.utils.data.Dataset):
    def __len__(self): return 64
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        ids = torch.randint(1, 40, (12,), generator=g)
        return {"input_ids": ids, "attention_mask": torch.ones(12, dtype=torch.long), "labels": int(ids[0] > 20)}

class Boom(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if mode == "fail" and state.global_step == 3:
            raise RuntimeError("nan loss")

model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                 intermediate_size=32, max_position_embeddings=16, num_labels=2))
args = TrainingArguments(output_dir=out, max_steps=8, logging_steps=2, per_device_train_batch_size=8, learning_rate=1e-3,
                         report_to=["pgtrack"] if mode == "report_to" else [], use_cpu=True, save_strategy="no",
                         disable_tqdm=True, seed=0)
callbacks = [Boom()]
if mode == "report_to":
    pt.register()
else:
    callbacks.append(pt.PgtrackCallback(experiment="transformers", identifying={"mode": mode}))
Trainer(model=model, args=args, train_dataset=Data(), callbacks=callbacks).train()
print("done")
"""


def _runs(conn):
    return conn.execute("SELECT r.identity ->> 'mode', r.status::text, r.args, r.error FROM pgtrack.runs r "
                        "JOIN pgtrack.experiments e ON e.id = r.experiment_id ORDER BY r.id").fetchall()


def test_training_logs_at_global_steps_and_completes(dbname, conn, tmp_path):
    code, out, err = run_script(SCRIPT, dbname, "ok", str(tmp_path))
    assert code == 0, err[-3000:]
    [(mode, status, args, error)] = _runs(conn)
    assert (mode, status) == ("ok", "COMPLETED") and args["learning_rate"] == 1e-3 and args["max_steps"] == 8
    steps = [r[0] for r in conn.execute("SELECT step FROM pgtrack.metrics WHERE loss IS NOT NULL ORDER BY step")]
    assert steps == [2, 4, 6, 8]
    assert {"loss", "learning_rate", "grad_norm"} <= {r[0] for r in conn.execute("SELECT name FROM pgtrack.metric_columns()")}


def test_report_to_pgtrack(dbname, conn, tmp_path):
    code, out, err = run_script(SCRIPT, dbname, "report_to", str(tmp_path), env={"PGTRACK_EXPERIMENT": "via-report-to"})
    assert code == 0, err[-3000:]
    assert conn.execute("SELECT e.name, r.status::text FROM pgtrack.runs r JOIN pgtrack.experiments e ON e.id = r.experiment_id"
                        ).fetchall() == [("via-report-to", "COMPLETED")]


def test_an_exception_fails_the_run(dbname, conn, tmp_path):
    code, out, err = run_script(SCRIPT, dbname, "fail", str(tmp_path))
    assert code != 0 and "nan loss" in err
    [(mode, status, args, error)] = _runs(conn)
    assert status == "FAILED" and "nan loss" in error and "on_step_end" in error
