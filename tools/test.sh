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

ensure_system_deps
ensure_venv
[ "${PGTRACK_SKIP_INTEGRATIONS:-0}" = 1 ] || ensure_integrations_venv
install_extension
trap cluster_stop EXIT
failed=()
for major in ${PGTRACK_TEST_VERSIONS:-15 18}; do
    use_postgres "$major"
    cluster_start
    run_suite || failed+=("$major")
    cluster_stop
done
[ ${#failed[@]} -eq 0 ] || { log "FAILED on PostgreSQL ${failed[*]}"; exit 1; }
log "all tests passed on PostgreSQL ${PGTRACK_TEST_VERSIONS:-15 18}"
