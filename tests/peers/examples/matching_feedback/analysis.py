"""Queries over the candidates with wallow's DSL, once warmup_steps is in the schema (wallow_v2.toml)."""
from __future__ import annotations

from pathlib import Path

from wallow import F, Store, find, find_collisions_after_drop, load_schema

HERE = Path(__file__).parent
store = Store(HERE / "runs.db", schema=load_schema(HERE / "wallow.toml"))

top = (store.where((F("cell_k") == 4) & (F("status") == "completed"))
            .order_by(F("val_accuracy").desc(), F("candidate_id").asc())
            .limit(3)
            .all())
print("top of cell_k 4:", [(run.cell_sigma, run.generation, run.candidate_id, run.warmup_steps) for run in top])

print("cell_sigma in (0.05, 0.1), generation 1:", store.where(F("cell_sigma").in_([0.05, 0.1]), F("generation") == 1).count())
print("with a T_88 entry:", store.where(F("discovered_T").json_path("T_88").is_not_null()).count())
print("warmup 100 better than 0.5:", store.where(F("warmup_steps") == 100, F("val_accuracy") > 0.5).count(), "of",
      store.where(F("warmup_steps") == 100).count())

run = find(store, cell_k=8, cell_sigma=0.1, generation=1, candidate_id=3)  # seed and warmup_steps: their defaults
print("found with defaults:", run.seed, run.warmup_steps, run.status == "completed")

groups = find_collisions_after_drop(store, "warmup_steps")
print("if warmup_steps were dropped:", len(groups), "groups would collapse, of sizes", sorted({len(g.row_ids) for g in groups}))
