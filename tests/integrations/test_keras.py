"""PgtrackCallback with the real Keras 3 on its torch backend, on CPU: a 2-layer MLP on synthetic data,
end to end in a subprocess; epoch and batch metrics, the compiled configuration as args; an exception
escaping fit() FAILED with its traceback; SIGTERM CANCELLED."""
from conftest import run_script

SCRIPT = """
import sys, time, numpy as np, keras
from pgtrack.integrations.keras import PgtrackCallback

mode = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32"); y = (x[:, 0] + x[:, 1] > 0).astype("float32")

class Boom(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1 and mode == "fail":
            raise RuntimeError("loss is nan")
        if epoch == 1 and mode == "sigterm":
            print("training", flush=True); time.sleep(60)

model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0,
          callbacks=[PgtrackCallback("keras", identifying={"mode": mode}, batch_every=2), Boom()])
print("done")
"""


def _run(conn, mode):
    return conn.execute("SELECT id, status::text, args, error FROM pgtrack.runs WHERE identity ->> 'mode' = %s", (mode,)).fetchone()


def test_fit_logs_epochs_batches_and_the_compiled_config(dbname, conn):
    code, out, err = run_script(SCRIPT, dbname, "ok")
    assert code == 0, err[-3000:]
    run_id, status, args, error = _run(conn, "ok")
    assert status == "COMPLETED" and abs(args["optimizer/learning_rate"] - 0.01) < 1e-6 and args["fit/epochs"] == 3
    assert args["loss"] == "binary_crossentropy"
    epochs = conn.execute("SELECT step, accuracy, val_loss FROM pgtrack.metrics WHERE run_id = %s AND val_loss IS NOT NULL "
                          "ORDER BY step", (run_id,)).fetchall()
    assert [e[0] for e in epochs] == [0, 1, 2] and all(0 <= e[1] <= 1 for e in epochs)
    assert conn.execute('SELECT count("batch/loss") FROM pgtrack.metrics WHERE run_id = %s', (run_id,)).fetchone()[0] >= 3


def test_an_exception_fails_the_run(dbname, conn):
    code, out, err = run_script(SCRIPT, dbname, "fail")
    assert code != 0 and "loss is nan" in err
    _, status, _, error = _run(conn, "fail")
    assert status == "FAILED" and "loss is nan" in error


def test_sigterm_cancels_the_run(dbname, conn):
    code, out, err = run_script(SCRIPT, dbname, "sigterm", signal_after="training")
    _, status, _, error = _run(conn, "sigterm")
    assert status == "CANCELLED", (code, status, error, err[-2000:])
