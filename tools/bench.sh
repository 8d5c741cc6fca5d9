#!/usr/bin/env bash
# make bench: benchmarks on a throwaway cluster at PostgreSQL's default durability (fsync and
# synchronous_commit on). Not timed tests: ratios of interleaved rounds, medians. The peers (SQLTrack
# 0.1.4, MLflow's SqlAlchemyStore, wallow 0.2.1, W&B offline) live in their own virtualenv, .venv-bench.
# PGTRACK_BENCH_SCALE=0.1 scales every size down; PGTRACK_BENCH_FULL=1 runs the 10-million-value analysis.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
BENCH_VENV="$ROOT_DIR/.venv-bench"
BENCH_PEERS=("sqltrack==0.1.4" "wallow==0.2.1" "mlflow-skinny" "sqlalchemy>=2" "alembic" "psycopg2-binary" "wandb==0.31.0")
ensure_bench_venv() {
    local stamp="$BENCH_VENV/.installed"
    [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
    if [ ! -f "$stamp" ] || [ "$ROOT_DIR/pyproject.toml" -nt "$stamp" ] || [ "$(cat "$stamp")" != "${BENCH_PEERS[*]}" ]; then
        log "installing the peers into $BENCH_VENV"
        "$BENCH_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT_DIR[analysis]" "${BENCH_PEERS[@]}"
        echo "${BENCH_PEERS[*]}" > "$stamp"
    fi
}
# The full mlflow package (its UI) for the dashboard comparison (bench/ui_vs_mlflow.py); pgtrack comes
# from the checkout (PYTHONPATH).
ensure_mlflow_venv() {
    local venv="$ROOT_DIR/.venv-mlflow"
    if [ ! -f "$venv/.installed" ]; then
        log "installing MLflow (with its UI) into $venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "mlflow==3.17.2" "psycopg2-binary" \
            "psycopg[binary]>=3.2,<4" "playwright==1.65.2"
        touch "$venv/.installed"
    fi
}
export CLUSTER_DURABLE=1
ensure_bench_venv
ensure_mlflow_venv
exec bash "$ROOT_DIR/tools/with-cluster.sh" bash -c '
    section() { local name=$1 start=$SECONDS; shift; echo "== $name"; "$@"; echo "-- $name: $((SECONDS - start)) s"; echo; }
    for script in metrics_bench.py registry_bench.py python_bench.py report_bench.py; do
        section "bench/$script" bash -c "cd bench && ../.venv/bin/python $script"
    done
    section "bench/ui_bench.py (the dashboard)" bash -c "cd bench && ../.venv/bin/python ui_bench.py"
    section "bench/ui_vs_mlflow.py (the dashboard against MLflow'"'"'s UI)" \
        bash -c "cd bench && PYTHONPATH=../python ../.venv-mlflow/bin/python ui_vs_mlflow.py"
    section "bench/memory_bench.py (client and embedded server memory)" bash -c "cd bench && ../.venv/bin/python memory_bench.py"
    section "bench/compare.py (peers)" bash -c "cd bench && ../.venv-bench/bin/python compare.py"
    section "bench/citus_bench.py (a Citus coordinator + 2 workers against this server)" bash tools/citus-bench.sh'
