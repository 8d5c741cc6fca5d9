#!/usr/bin/env bash
# make bench: benchmarks on a throwaway cluster (not timed tests; ratios of interleaved rounds).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/with-cluster.sh" bash -c '
    for script in bench/metrics_bench.py bench/registry_bench.py bench/python_bench.py bench/report_bench.py; do
        echo "== $script"; .venv/bin/python "$script"; echo
    done'
