#!/usr/bin/env bash
# make test: every test on a fresh machine. Installs what is missing, installs the extension, then runs
# the lanes side by side, each on a throwaway cluster of its own that it always stops: one per
# PostgreSQL version (15 from Debian, 18 from the embedded extra's wheel; PGTRACK_TEST_VERSIONS picks),
# each pgTAP (pg_prove) then pytest, and the Citus group. One lane keeps about one core busy (its tests
# wait on servers, children and sleeps half the time), so on 2 cores the lanes overlap instead of
# queueing; PGTRACK_TEST_JOBS=1 runs them one after another. Each line of output names its lane.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"

run_suite() {
    local status=0 out
    out=$(mktemp -d /tmp/pgtrack-iso.XXXXXX)
    log "PostgreSQL $PG_MAJOR: make installcheck (pgTAP tests/sql/*.sql, isolation specs tests/isolation)"
    make -s -C "$ROOT_DIR" installcheck PG_CONFIG="$PG15_BIN/pg_config" ISOLATION_OUT="$out" \
        || { status=1; cat "$out/regression.diffs" 2>/dev/null || true; }
    rm -rf "$out"
    # The same tests on a plain-SQL install (pgtrack setup --plain: no CREATE EXTENSION pgtrack), less
    # install.sql, which checks extension membership.
    log "PostgreSQL $PG_MAJOR: pgTAP on a plain-SQL install"
    psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE pgtrack_tap_plain" >/dev/null
    "$VENV/bin/pgtrack" -d pgtrack_tap_plain setup --plain >/dev/null
    psql -q -v ON_ERROR_STOP=1 -d pgtrack_tap_plain -c "CREATE EXTENSION pgtap" >/dev/null
    pg_prove -d pgtrack_tap_plain --ext .sql $(ls tests/sql/*.sql | grep -v '/install\.sql$') || status=1
    log "PostgreSQL $PG_MAJOR: pytest tests/python"
    # The machine's tests (embedded server, pip installs, the dashboard's access rules, the peers' code)
    # do not depend on the lane's server version: the last version's lane runs them (18 by default; the
    # 15 lane runs the integrations, so the two end together).
    local only=()
    [ "$PG_MAJOR" = "$MACHINE_LANE" ] || only=(-m "not machine")
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider --durations=15 "${only[@]}" tests/python || status=1
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
CITUS_PYTEST="install/test_distributed.py registry/test_registry_races.py registry/test_leases.py client/test_client.py
    registry/test_registry_api.py metrics/test_track.py client/test_cli.py client/test_analysis_helpers.py
    compat/test_wallow_compat.py compat/test_sqltrack_functions.py registry/test_lifecycle.py
    install/test_migrate.py install/test_schema.py client/test_errors.py metrics/test_faults.py"

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

# lane NAME: the lane's group on its own cluster; its output prefixed with [NAME], its status in
# $LANES/NAME.rc.
lane() {
    local name=$1
    (
        set +e
        (  # set -e holds in here: not part of a list
            set -e
            # pytest's temporary directories of its own: pytest makes /tmp/pytest-of-USER 0700 again
            # whenever a session starts, which took a concurrent lane's embedded server its way through.
            export PYTEST_DEBUG_TEMPROOT="$LANES/$name-tmp"
            mkdir -p "$PYTEST_DEBUG_TEMPROOT"
            if [ "$name" = citus ]; then
                trap citus_stop EXIT
                use_postgres 15
                run_citus_suite
            else
                trap cluster_stop EXIT
                use_postgres "$name"
                cluster_start
                run_suite
            fi
        )
        echo $? > "$LANES/$name.rc"
    ) 2>&1 | sed -u "s/^/[$name] /"
}

ensure_system_deps
ensure_venv
"$ROOT_DIR/tools/lint.sh" || exit 1
[ "${PGTRACK_SKIP_INTEGRATIONS:-0}" = 1 ] || ensure_integrations_venv
install_extension
"$VENV/bin/python" -c 'from pgtrack.embedded import server_binaries; server_binaries(18)' >/dev/null  # the lanes share it
LANES=$(mktemp -d /tmp/pgtrack-lanes.XXXXXX)
trap 'rm -rf "$LANES"' EXIT
names=(${PGTRACK_TEST_VERSIONS:-15 18})
MACHINE_LANE=${names[${#names[@]}-1]}
# PGTRACK_SKIP_CITUS=1 leaves the Citus group out (it needs the Citus build: about 2-4 minutes, once).
[ "${PGTRACK_SKIP_CITUS:-0}" = 1 ] || names+=(citus)
started=$SECONDS
for name in "${names[@]}"; do
    if [ "${PGTRACK_TEST_JOBS:-3}" = 1 ]; then lane "$name"; else lane "$name" & fi
done
wait
failed=()
for name in "${names[@]}"; do
    [ "$(cat "$LANES/$name.rc" 2>/dev/null)" = 0 ] || failed+=("$name")
done
[ ${#failed[@]} -eq 0 ] || { log "FAILED: ${failed[*]} (lanes named by PostgreSQL version; citus: 15 with Citus)"; exit 1; }
log "all tests passed: ${names[*]} in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
