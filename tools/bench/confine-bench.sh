#!/usr/bin/env bash
# confine-bench.sh [BUILD_DIR] [-n CALLS]
#
# What confinement costs, as ratios against baselines measured in the same
# run (src/supervisor/confine/bench/osh-confine-bench.c): spawning a command
# with the id switch + Landlock + seccomp vs plain fork/exec, an allowed
# system call under the seccomp filter vs none, a denied call reported
# through user notification vs answered EPERM in the kernel, and the
# one-off preparation time. Needs root. Output: `name value unit` lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-$root/build}
[ $# -gt 0 ] && shift
bin=$bdir/bin/osh-confine-bench
[ -x "$bin" ] || { echo "confine-bench: $bin not built" >&2; exit 1; }
exec "$bin" "$@"
