#!/usr/bin/env bash
# make screenshot: regenerate the README's pictures from the demo sweep (a throwaway cluster,
# examples/sweep.py): docs/ui-runs.png and docs/ui-charts.png from `pgtrack ui`, docs/report.png from
# `pgtrack report`, each taken by headless Chromium.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
prepare_cluster
create_pgtrack_db pgtrack_shot
export PGDATABASE=pgtrack_shot
"$VENV/bin/python" examples/sweep.py --workers 4 >/dev/null
out=$(mktemp -d)
shot() {  # shot FILE URL HEIGHT
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size="1400,$3" \
        --virtual-time-budget=8000 --screenshot="$ROOT_DIR/docs/$1" "$2" 2>/dev/null
    log "wrote docs/$1"
}
"$VENV/bin/pgtrack" report sweep-demo -o "$out/report.html"
shot report.png "file://$out/report.html" 1600
"$VENV/bin/pgtrack" ui --no-browser --port 0 > "$out/url" 2>/dev/null &
ui=$!
trap 'kill $ui 2>/dev/null; cluster_stop' EXIT
for _ in $(seq 50); do [ -s "$out/url" ] && break; sleep 0.2; done
url=$(head -1 "$out/url")  # http://127.0.0.1:PORT/#token=...: the page sends the token with its data requests
base=${url%%#*}; base=${base%/}; fragment=${url#*#}  # fragment: token=...
id=$("$VENV/bin/pgtrack" --json experiments | "$VENV/bin/python" -c 'import json,sys; print(next(e["id"] for e in json.load(sys.stdin) if e["name"] == "sweep-demo"))')
shot ui-runs.png "$base/experiments/$id#$fragment" 900
shot ui-charts.png "$base/experiments/$id#$fragment&tab=charts" 1000
rm -rf "$out"
