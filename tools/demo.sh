#!/usr/bin/env bash
# make demo: a throwaway cluster, the extension, the SQL quick start, then a deduplicated sweep
# drained by several workers at once, and the analysis printed as tables.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
WORKERS=${WORKERS:-4}

prepare_cluster
create_pgtrack_db pgtrack_demo
export PGDATABASE=pgtrack_demo
PSQL=(psql -X -v ON_ERROR_STOP=1)

log "CREATE EXTENSION pgtrack; SELECT pgtrack.setup();  -- done"
log "examples/quickstart.sql"
"${PSQL[@]}" -f examples/quickstart.sql

log "examples/sweep.sql: a grid of 18 configurations, $WORKERS workers claiming with claim_next"
"${PSQL[@]}" -f examples/sweep.sql
exp=$("${PSQL[@]}" -Atc "SELECT id FROM pgtrack.experiments WHERE name = 'sweep-demo'")
for i in $(seq 1 "$WORKERS"); do
    "${PSQL[@]}" -qc "CALL public.pgtrack_demo_worker($exp, 'worker-$i')" &
done
wait
"${PSQL[@]}" -f examples/sweep_report.sql
