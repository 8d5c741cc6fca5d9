#!/usr/bin/env bash
# make screenshot: regenerate docs/report.png, the README's picture of the report of the demo sweep
# (a throwaway cluster, examples/sweep.py, pgtrack report, headless Chromium).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
prepare_cluster
create_pgtrack_db pgtrack_shot
export PGDATABASE=pgtrack_shot
"$VENV/bin/python" examples/sweep.py --workers 4 >/dev/null
out=$(mktemp -d)
"$VENV/bin/pgtrack" report sweep-demo -o "$out/report.html"
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1600 \
    --screenshot="$ROOT_DIR/docs/report.png" "file://$out/report.html" 2>/dev/null
rm -rf "$out"
log "wrote docs/report.png"
