#!/usr/bin/env bash
# bench/citus_bench.py: a Citus cluster (tools/citus.sh, PostgreSQL's default durability) against the
# single server of make bench (PGDATABASE on the libpq environment). Stops the cluster on exit.
set -euo pipefail
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$(mktemp -d /tmp/pgtrack-citus-bench.XXXXXX)
trap 'bash "$ROOT_DIR/tools/citus.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
CLUSTER_DURABLE=1 bash "$ROOT_DIR/tools/citus.sh" start "$dir" >/dev/null
conninfo=$(bash "$ROOT_DIR/tools/citus.sh" createdb "$dir" pgtrack_bench | tail -1)
"$(cat "$dir/bin")/psql" -X -q -v ON_ERROR_STOP=1 -d "$conninfo" -c "CREATE EXTENSION pgtrack" -c "SELECT pgtrack.setup()" \
    -c "SELECT pgtrack.distribute()" >/dev/null
cd "$ROOT_DIR/bench" && ../.venv/bin/python citus_bench.py "${PGDATABASE:-pgtrack}" "$conninfo"
