#!/usr/bin/env bash
# ocsf-bench.sh - OCSF serializer bench: build+serialize of the representative
# CONNECT-allow Network Activity event vs the byte-identical JSON from cJSON
# in the same run (ratio), and heap allocations per event on our path.
# Usage: tools/bench/ocsf-bench.sh [BUILD_DIR] [-n N]
# Prints `name value unit` lines, then the target checks:
#   speedup_vs_cjson >= 10 and ocsf_heap_allocs == 0
set -euo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
shift || true
bin="$bdir/bin/ocsf-bench"
[ -x "$bin" ] || { echo "ocsf-bench: $bin not built (cmake --build $bdir --target ocsf-bench)" >&2; exit 2; }
out=$("$bin" "$@")
echo "$out"
echo "$out" | awk '
  $1 == "speedup_vs_cjson" { r = $2 }
  $1 == "ocsf_heap_allocs" { a = $2 }
  END {
    printf "target speedup_vs_cjson>=10 %s\n", (r >= 10 ? "PASS" : "MISS");
    printf "target ocsf_heap_allocs==0 %s\n", (a == 0 ? "PASS" : "MISS");
  }'
