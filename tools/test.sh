#!/usr/bin/env bash
# make test: every test on a fresh machine. Installs what is missing, installs the extension, then for
# each PostgreSQL version (15 from Debian, 18 from the embedded extra's wheel; PGTRACK_TEST_VERSIONS
# picks) starts a throwaway cluster, runs pgTAP (pg_prove) then pytest, and always stops the cluster.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"

run_suite() {
    local status=0
    create_pgtrack_db pgtrack_tap
    psql -q -v ON_ERROR_STOP=1 -d pgtrack_tap -c "CREATE EXTENSION pgtap" >/dev/null
    log "PostgreSQL $PG_MAJOR: pgTAP tests/sql/*.sql"
    pg_prove -d pgtrack_tap --ext .sql tests/sql/ || status=1
    # The same tests on a plain-SQL install (pgtrack setup --plain: no CREATE EXTENSION pgtrack), less
    # install.sql, which checks extension membership.
    log "PostgreSQL $PG_MAJOR: pgTAP on a plain-SQL install"
    psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE pgtrack_tap_plain" >/dev/null
    "$VENV/bin/pgtrack" -d pgtrack_tap_plain setup --plain >/dev/null
    psql -q -v ON_ERROR_STOP=1 -d pgtrack_tap_plain -c "CREATE EXTENSION pgtap" >/dev/null
    pg_prove -d pgtrack_tap_plain --ext .sql $(ls tests/sql/*.sql | grep -v '/install\.sql$') || status=1
    log "PostgreSQL $PG_MAJOR: pytest tests/python"
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/python || status=1
    if [ "$PG_MAJOR" = 15 ] && [ "${PGTRACK_SKIP_INTEGRATIONS:-0}" != 1 ]; then
        log "PostgreSQL $PG_MAJOR: pytest tests/integrations (Lightning, Transformers, Keras, Optuna) in $INT_VENV"
        PYTHONPATH="$ROOT_DIR/python" "$INT_VENV/bin/python" -m pytest -q -p no:cacheprovider tests/integrations || status=1
    fi
    return $status
}

# The Citus group: a coordinator and 2 workers (tools/citus.sh, Citus built once and cached outside the
# checkout), the pgTAP suite on a distributed database (Citus' default 32 shards) and the pytest files
# below with every test database distributed (tests/python/conftest.py; 4 shards, faster to make):
# the Python package against the coordinator, the registry races, leases, the CLI, the seeds' APIs.
# Left out (about 4 s per test database on a cluster): what is single-server by nature (embedded
# server, wheel and install, server restarts, streaming replica, query plans, dump/restore, rebuilds,
# the README walk-through, the browser tests), and the role and search_path hardening files, whose
# cluster counterparts are in test_distributed.py (roles on a cluster).
CITUS_PYTEST="test_distributed.py test_registry_races.py test_leases.py test_client.py test_registry_api.py test_track.py
    test_cli.py test_analysis_helpers.py test_wallow_compat.py test_sqltrack_functions.py test_lifecycle.py test_migrate.py
    test_schema.py test_errors.py test_faults.py"

run_citus_suite() {
    local status=0 dir conninfo
    dir=$(mktemp -d /tmp/pgtrack-citus.XXXXXX)
    CITUS_DIR_STARTED=$dir
    log "Citus: building (once) and starting a coordinator and 2 workers under $dir"
    conninfo=$(bash "$ROOT_DIR/tools/citus.sh" start "$dir" | tail -1) || return 1
    log "Citus coordinator: $conninfo"
    (
        export PGHOST="$(cat "$dir/base")/sock" PGPORT=$(awk '$1=="coordinator"{print $2}' "$dir/nodes") PGUSER=postgres PGDATABASE=postgres
        export PGTRACK_CLUSTER_DIR="$dir" PGTRACK_CITUS_DIR="$dir" PGTRACK_PG_BIN="$(cat "$dir/bin")"
        export PATH="$PGTRACK_PG_BIN:$BASE_PATH"
        bash "$ROOT_DIR/tools/citus.sh" createdb "$dir" pgtrack_tap >/dev/null
        while read -r node port; do
            psql -q -p "$port" -d pgtrack_tap -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
        done < "$dir/nodes"
        psql -q -v ON_ERROR_STOP=1 -d pgtrack_tap -c "CREATE EXTENSION pgtrack" -c "SELECT pgtrack.setup()" \
             -c "SELECT pgtrack.distribute()" >/dev/null
        log "Citus: pgTAP tests/sql/*.sql on a distributed database"
        pg_prove -d pgtrack_tap --ext .sql tests/sql/ || exit 1
        log "Citus: pytest on distributed databases"
        "$VENV/bin/python" -m pytest -q -p no:cacheprovider $(printf 'tests/python/%s ' $CITUS_PYTEST) || exit 1
    ) || status=1
    citus_stop
    return $status
}

citus_stop() {
    [ -n "${CITUS_DIR_STARTED:-}" ] || return 0
    bash "$ROOT_DIR/tools/citus.sh" stop "$CITUS_DIR_STARTED" >/dev/null 2>&1 || true
    rm -rf "$CITUS_DIR_STARTED"
    unset CITUS_DIR_STARTED
}

ensure_system_deps
ensure_venv
[ "${PGTRACK_SKIP_INTEGRATIONS:-0}" = 1 ] || ensure_integrations_venv
install_extension
trap 'cluster_stop; citus_stop' EXIT
failed=()
for major in ${PGTRACK_TEST_VERSIONS:-15 18}; do
    use_postgres "$major"
    cluster_start
    run_suite || failed+=("$major")
    cluster_stop
done
# PGTRACK_SKIP_CITUS=1 leaves the Citus group out (it needs the Citus build: about 2-4 minutes, once).
if [ "${PGTRACK_SKIP_CITUS:-0}" != 1 ]; then
    use_postgres 15
    run_citus_suite || failed+=("15 with Citus")
fi
[ ${#failed[@]} -eq 0 ] || { log "FAILED on PostgreSQL ${failed[*]}"; exit 1; }
log "all tests passed on PostgreSQL ${PGTRACK_TEST_VERSIONS:-15 18}$([ "${PGTRACK_SKIP_CITUS:-0}" = 1 ] || echo ' and on Citus')"
