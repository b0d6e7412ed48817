#!/usr/bin/env bash
# netns-bench.sh - what the sandbox's network namespace costs a supervisor run.
# Runs `openshell-sandbox -- true` N times without a namespace
# (OPENSHELL_NETNS=off: the baseline, measured in the same run) and N times
# with one (require), interleaved, and reports the median wall time of each,
# the difference and their ratio. The per-step times (namespace + veth,
# ruleset, teardown) are in the events themselves (unmapped setup_us,
# install_us, teardown_us; docs/network.md). Needs root.
# Usage: tools/bench/netns-bench.sh [BUILD_DIR] [N]    (default build, 20)
# Prints `name value unit` lines, then the target check:
#   netns_run_ratio <= 3.0 (a namespace may cost at most 2x a bare run extra)
set -euo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
n=${2:-20}
sup="$bdir/bin/openshell-sandbox"
[ -x "$sup" ] || { echo "netns-bench: $sup not built" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "netns-bench: needs root (network namespaces)" >&2; exit 2; }
dir=$(mktemp -d /tmp/osh-netns-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 - "$sup" "$dir" "$n" <<'EOF'
import os, statistics, subprocess, sys, time
sup, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(mode):
    env = dict(os.environ, OPENSHELL_NETNS=mode)
    t = time.monotonic()
    r = subprocess.run([sup, "--log-dir", d, "--", "true"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.monotonic() - t
    if r.returncode != 0:
        sys.exit("netns-bench: run with OPENSHELL_NETNS=%s failed (%d)" % (mode, r.returncode))
    return dt * 1000.0
off, on = [], []
for _ in range(n):
    off.append(run("off"))
    on.append(run("require"))
mo, mn = statistics.median(off), statistics.median(on)
print("run_ms_without_netns %.1f ms" % mo)
print("run_ms_with_netns %.1f ms" % mn)
print("netns_added_ms %.1f ms" % (mn - mo))
print("netns_run_ratio %.2f x" % (mn / mo))
print("target netns_run_ratio<=3.0 %s" % ("PASS" if mn / mo <= 3.0 else "MISS"))
EOF
