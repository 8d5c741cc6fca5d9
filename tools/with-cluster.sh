#!/usr/bin/env bash
# Run one command with a throwaway cluster whose database "pgtrack" has the extension set up.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
ensure_system_deps
ensure_venv
install_extension
trap cluster_stop EXIT
cluster_start
create_pgtrack_db pgtrack
export PGDATABASE=pgtrack
"$@"
