#!/usr/bin/env bash
# rpc-bench.sh [BUILD_DIR] [osh-rpc-bench flags...]
#
# Starts openshell-gateway on its Unix socket with a temporary data dir (its
# supervisors behind tools/sandbox-tap.sh, so the bench can call as the
# sandbox's supervisor with its credential),
# creates one sandbox, runs osh-rpc-bench against it (PushSandboxLogs ingestion
# with 8 concurrent streams vs an in-process baseline; GetSandboxPolicy round
# trips vs GetConfig), then deletes the sandbox and stops the gateway.
# Output: `name value unit` lines on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-$root/build}
[ $# -gt 0 ] && shift
bin=$bdir/bin
for b in openshell openshell-gateway osh-rpc-bench; do
	[ -x "$bin/$b" ] || { echo "rpc-bench: $bin/$b not built" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/osh-rpc-bench.XXXXXX)
gw_pid=
cleanup() {
	if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
		"$bin/openshell" --gateway "$addr" sandbox delete bench >/dev/null 2>&1 || true
		kill -TERM "$gw_pid" 2>/dev/null || true
		wait "$gw_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
addr=
mkdir -m 700 "$tmp/taps"
OSH_TAP_DIR="$tmp/taps" OSH_TAP_REAL="$bin/openshell-sandbox" \
	"$bin/openshell-gateway" --data-dir "$tmp" --sandbox-bin "$root/tools/sandbox-tap.sh" \
	2>"$tmp/gateway.stderr" &
gw_pid=$!
# readiness: the address file, then a GetConfig call that succeeds
for _ in $(seq 1 400); do
	if [ -s "$tmp/gateway.addr" ]; then
		addr=$(cat "$tmp/gateway.addr")
		"$bin/openshell" --gateway "$addr" config get >/dev/null 2>&1 && break
	fi
	kill -0 "$gw_pid" 2>/dev/null || { cat "$tmp/gateway.stderr" >&2; exit 1; }
	sleep 0.05
done
"$bin/openshell" --gateway "$addr" config get >/dev/null
"$bin/openshell" --gateway "$addr" sandbox create --name bench -- sleep 600 >/dev/null
for _ in $(seq 1 200); do
	ls "$tmp"/taps/boot.* >/dev/null 2>&1 && break
	sleep 0.05
done
OSH_BENCH_CREDENTIAL=$(sed -n 's/^credential=//p' "$tmp"/taps/boot.*)
export OSH_BENCH_CREDENTIAL
"$bin/osh-rpc-bench" --gateway "$addr" --sandbox bench "$@"
