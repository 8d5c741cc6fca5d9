#!/usr/bin/env bash
# make test: every test on a fresh machine. Installs what is missing, installs the extension,
# starts a throwaway cluster, runs pgTAP (pg_prove) then pytest, and always stops the cluster.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"

prepare_cluster

create_pgtrack_db pgtrack_tap
psql -q -v ON_ERROR_STOP=1 -d pgtrack_tap -c "CREATE EXTENSION pgtap" >/dev/null

status=0
log "pgTAP: tests/sql/*.sql"
pg_prove -d pgtrack_tap --ext .sql tests/sql/ || status=1

log "pytest: tests/python"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/python || status=1
exit $status
