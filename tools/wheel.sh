#!/usr/bin/env bash
# make wheel: the sdist and the wheel in dist/ (the build backend generates the extension's scripts).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
ensure_venv
rm -f dist/pgtrack-*
"$VENV/bin/python" -m build --outdir dist . >/dev/null
ls dist/pgtrack-*
