#!/usr/bin/env bash
# emit-bench.sh - emission runtime bench: sustained events/s to both files on
# one core, the raw 64 KiB write() ceiling for the same bytes, writer-only
# drain rate, producer emit latency with a healthy vs a stalled writer, and a
# whole log site firing sparsely (every 100 us) vs back to back.
# Usage: tools/bench/emit-bench.sh [BUILD_DIR] [--events N] [--latency-events N]
# Prints `name value unit` lines, then the two target checks:
#   sink_ceiling_ratio >= 0.5, stalled_p99_ratio <= 2.0, sparse_burst_ratio <= 2.0
set -euo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
shift || true
bin="$bdir/bin/osh-emit-bench"
[ -x "$bin" ] || { echo "emit-bench: $bin not built (cmake --build $bdir --target osh-emit-bench)" >&2; exit 2; }
dir=$(mktemp -d /tmp/osh-emit-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
out=$("$bin" --dir "$dir" "$@")
echo "$out"
echo "$out" | awk '
  $1 == "sink_ceiling_ratio" { s = $2 }
  $1 == "sustained_ceiling_ratio" { e = $2 }
  $1 == "stalled_p99_ratio" { p = $2 }
  $1 == "sparse_burst_ratio" { b = $2 }
  END {
    printf "target sink_ceiling_ratio>=0.5 %s\n", (s >= 0.5 ? "PASS" : "MISS");
    printf "target sustained_ceiling_ratio>=0.5 %s\n", (e >= 0.5 ? "PASS" : "MISS");
    printf "target stalled_p99_ratio<=2.0 %s\n", (p <= 2.0 ? "PASS" : "MISS");
    printf "target sparse_burst_ratio<=2.0 %s\n", (b <= 2.0 ? "PASS" : "MISS");
  }'
