#!/usr/bin/env bash
# rpc-bench.sh [BUILD_DIR] [osh-rpc-bench flags...]
#
# Starts openshell-gateway on 127.0.0.1:<free port> with a temporary data dir,
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
"$bin/openshell-gateway" --listen 127.0.0.1:0 --data-dir "$tmp" 2>"$tmp/gateway.stderr" &
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
"$bin/osh-rpc-bench" --gateway "$addr" --sandbox bench "$@"
