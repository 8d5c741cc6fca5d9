#!/usr/bin/env bash
# pgTAP (tests/sql/*.sql, or the files given) through pg_prove, on a fresh database of the running
# server (PGHOST/PGPORT) that has pgtrack and pgTAP installed: CREATE EXTENSION pgtrack, setup(),
# CREATE EXTENSION pgtap. `make installcheck` runs it beside the isolation specs.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${PGTRACK_TAP_DB:-pgtrack_tap}
PGOPTIONS="-c client_min_messages=warning" psql -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
psql -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION pgtrack" -c "SELECT pgtrack.setup()" \
     -c "CREATE EXTENSION pgtap" >/dev/null
if [ $# -eq 0 ]; then set -- tests/sql/; fi
pg_prove -d "$db" --ext .sql "$@"
