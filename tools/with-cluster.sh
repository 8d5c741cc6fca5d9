#!/usr/bin/env bash
# Run one command with a throwaway cluster whose database "pgtrack" has the extension set up (and
# pgTAP, when the server has it); the cluster is stopped when the command ends.
#
#   tools/with-cluster.sh [--pg 15|18] COMMAND...
#
# 15 (the default) is Debian's server, which finds pgtrack where `make install` put it; 18 is the
# embedded extra's server, which finds this checkout's extension files without installing anything.
# The command sees PGHOST/PGPORT/PGUSER/PGDATABASE (libpq), and PGTRACK_CLUSTER_DIR, as the tests
# expect: tools/with-cluster.sh .venv/bin/python -m pytest tests/python/registry/test_leases.py
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
version=15
if [ "${1:-}" = --pg ]; then version=$2; shift 2; fi
ensure_system_deps
ensure_venv
make -s all
[ "$version" != 15 ] || install_extension
use_postgres "$version"
export PG_CONFIG="$PG15_BIN/pg_config"  # PGXS (make installcheck) is Debian's 15 whatever the server
trap cluster_stop EXIT
cluster_start
create_pgtrack_db pgtrack
psql -q -d pgtrack -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null 2>&1 || true
export PGDATABASE=pgtrack
"$@"
