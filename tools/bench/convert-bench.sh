#!/usr/bin/env bash
# convert-bench.sh - cost of the OCSF down-version conversion (src/ocsf/
# ocsf_convert.h) per event, against plain serialization of the same event in
# the same run: the representative CONNECT-allow Network Activity event and
# the maximal Network Activity sample, to 1.1.0, 1.3.0, 1.5.0 and 1.7.0
# (the identity). Per-thread CPU time, best of 5 rounds.
# Usage: tools/bench/convert-bench.sh [BUILD_DIR] [-n N]
# Prints `name value unit` lines (docs/benchmarks.md "Down-version conversion").
set -euo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
shift || true
bin="$bdir/bin/ocsf-convert-bench"
[ -x "$bin" ] || { echo "convert-bench: $bin not built (cmake --build $bdir --target ocsf-convert-bench)" >&2; exit 2; }
exec "$bin" "$@"
