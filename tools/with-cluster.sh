#!/usr/bin/env bash
# Run one command with a throwaway cluster whose database "pgtrack" has the extension set up.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
prepare_cluster
create_pgtrack_db pgtrack
export PGDATABASE=pgtrack
"$@"
