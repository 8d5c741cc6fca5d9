"""What a researcher asks of the sweep, with wallow's DSL: progress, the best run, the leader of each
architecture, what failed, and one run looked up by its identifying values and by its uuid."""
from __future__ import annotations

from pathlib import Path

from wallow import F, Store, find, load_schema

HERE = Path(__file__).parent

store = Store(HERE / "runs.db", schema=load_schema(HERE / "wallow.toml"))
completed = F("status") == "completed"

print(f"progress: {store.where(completed).count()}/{store.count()} completed")

best = store.where(completed).order_by(F("val_accuracy").desc(), F("val_loss").asc()).first()
print(f"best: {best.architecture} lr={best.learning_rate} seed={best.seed} val_accuracy={best.val_accuracy}")

for architecture in ("mlp", "resnet18", "vit_small"):
    leader = store.where(completed & (F("architecture") == architecture)).order_by(F("val_accuracy").desc()).first()
    print(f"leader {architecture}: lr={leader.learning_rate} seed={leader.seed} val_accuracy={leader.val_accuracy}")

top = store.where(completed, F("architecture").in_(["resnet18", "vit_small"])).order_by(F("val_accuracy").desc()).limit(3).all()
print("top 3 of resnet18 and vit_small:", [(run.architecture, run.learning_rate, run.seed) for run in top])

near_best = store.where(completed, F("learning_rate") < 5e-4, F("val_accuracy") >= 0.9 * best.val_accuracy)
print(f"failed: {store.where(F('status') == 'failed').count()}, slow learning rate at least 0.9 of the best: {near_best.count()}")

run = find(store, architecture="vit_small", optimiser="adamw", learning_rate=3e-4, batch_size=64)  # seed: its default
again = store.find_by_uuid(run.uuid)
print(f"lookup: {run.architecture} lr={run.learning_rate} seed={run.seed}, by uuid the same run: {again.id == run.id}")

checkpoint = Path(best.best_checkpoint)
print(f"best checkpoint: {checkpoint.name} in the run's artefacts directory: {checkpoint.parent == store.artefacts_dir(best)}, "
      f"under artefacts/{best.architecture}: {store.artefacts_dir(best).parent.name == best.architecture}, exists: {checkpoint.exists()}")
