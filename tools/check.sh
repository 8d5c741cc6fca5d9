#!/usr/bin/env bash
# make check: the everyday run, in under 3 minutes. ruff and mypy, then on a throwaway PostgreSQL 15
# cluster: make installcheck (pgTAP and the isolation specs) and the pytest tests not marked slow, in
# PGTRACK_CHECK_JOBS processes (pytest-xdist, default 3: the tests wait on servers more than they
# compute), each on a cluster of its own (conftest.py). make test runs everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
started=$SECONDS
"$ROOT_DIR/tools/lint.sh"
prepare_cluster 15
out=$(mktemp -d /tmp/pgtrack-iso.XXXXXX)
log "PostgreSQL 15: make installcheck (pgTAP, isolation specs)"
make -s installcheck PG_CONFIG="$PG15_BIN/pg_config" ISOLATION_OUT="$out" \
    || { cat "$out/regression.diffs" 2>/dev/null; log "isolation results kept in $out"; exit 1; }
rm -rf "$out"
jobs=${PGTRACK_CHECK_JOBS:-3}
log "PostgreSQL 15: pytest -m 'not slow' in $jobs processes, each on a cluster of its own"
PGTRACK_CLUSTER_PER_WORKER=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" -n "$jobs" tests/python
log "make check passed in $((SECONDS - started)) s"
