#!/usr/bin/env bash
# ruff (pyflakes, pycodestyle, bugbear, import order) and mypy on python/pgtrack, with the settings in
# pyproject.toml. Part of make test and make check; on its own: make lint.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
ensure_venv
log "ruff and mypy on python/pgtrack"
"$VENV/bin/ruff" check --quiet python/pgtrack
"$VENV/bin/mypy" --no-error-summary
