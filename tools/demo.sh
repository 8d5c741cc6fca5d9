#!/usr/bin/env bash
# make demo: a throwaway cluster, the extension, the SQL quick start, then the Python main job: a
# deduplicated 24-configuration sweep drained by several worker processes, one of them killed with
# SIGKILL midway and its configuration recovered by another, the best configurations printed, and the
# experiment's HTML report written to .tmp/demo-report.html.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
WORKERS=${WORKERS:-4}

prepare_cluster
create_pgtrack_db pgtrack_demo
export PGDATABASE=pgtrack_demo

log "CREATE EXTENSION pgtrack; SELECT pgtrack.setup();  -- done"
log "examples/quickstart.sql (psql)"
psql -X -v ON_ERROR_STOP=1 -f examples/quickstart.sql

log "examples/sweep.py (Python): $WORKERS workers claiming with claim_next, one killed midway"
"$VENV/bin/python" examples/sweep.py --workers "$WORKERS"

mkdir -p "$ROOT_DIR/.tmp"
log "pgtrack report sweep-demo"
"$VENV/bin/pgtrack" report sweep-demo -o "$ROOT_DIR/.tmp/demo-report.html"
echo "open the report: $ROOT_DIR/.tmp/demo-report.html"
