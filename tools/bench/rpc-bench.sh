#!/usr/bin/env bash
# rpc-bench.sh [BUILD_DIR] [osh-rpc-bench flags...]
#
# Starts openshell-gateway on its Unix socket with a temporary data dir (its
# supervisors behind tools/sandbox-tap.sh, so the bench can call as the
# sandbox's supervisor with its credential),
# creates one sandbox, runs osh-rpc-bench against it (PushSandboxLogs ingestion
# with 8 concurrent streams vs an in-process baseline; GetSandboxPolicy round
# trips vs GetConfig), then deletes the sandbox and stops the gateway.
# Then the poll under load: a second gateway (--sandbox-bin /bin/true, so no
# supervisor processes compete for the CPU) with OSH_LOAD (default 100)
# sandboxes; osh-rpc-bench --load measures GetSandboxPolicy p99 idle, then
# (each push stream sends a 50-line batch every OSH_LOAD_PACE_MS, default 100)
# while 100 push streams and 100 followers run (poll_p99_under_load_ms,
# target <= 50 ms; the check prints PASS/FAIL and sets the exit status).
# Then the store backends (tools/bench/store-bench.sh): push lines/s and
# GetSandboxPolicy calls/s on SQLite and PostgreSQL in the same run, and
# pg_two_gateway_ratio (two gateways on one PostgreSQL database / one);
# skipped with a note when Debian's postgresql is not installed.
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
gw2_pid=
cleanup() {
	if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
		"$bin/openshell" --gateway "$addr" sandbox delete bench >/dev/null 2>&1 || true
		kill -TERM "$gw_pid" 2>/dev/null || true
		wait "$gw_pid" 2>/dev/null || true
	fi
	if [ -n "$gw2_pid" ] && kill -0 "$gw2_pid" 2>/dev/null; then
		kill -TERM "$gw2_pid" 2>/dev/null || true
		wait "$gw2_pid" 2>/dev/null || true
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

# --- GetSandboxPolicy under load (second gateway on its Unix socket; its
# "supervisors" are tools/sandbox-tap.sh in front of /bin/true, which keeps
# each sandbox's credential for the bench and runs no process that competes
# for the CPU)
mkdir -p "$tmp/load"
mkdir -m 700 "$tmp/taps2"
OSH_TAP_DIR="$tmp/taps2" OSH_TAP_REAL=/bin/true \
	"$bin/openshell-gateway" --data-dir "$tmp/load" --sandbox-bin "$root/tools/sandbox-tap.sh" \
	2>"$tmp/load/gateway.stderr" &
gw2_pid=$!
addr2=
for _ in $(seq 1 400); do
	if [ -s "$tmp/load/gateway.addr" ]; then
		addr2=$(cat "$tmp/load/gateway.addr")
		"$bin/openshell" --gateway "$addr2" config get >/dev/null 2>&1 && break
	fi
	kill -0 "$gw2_pid" 2>/dev/null || { cat "$tmp/load/gateway.stderr" >&2; exit 1; }
	sleep 0.05
done
out=$(env -u OSH_BENCH_CREDENTIAL "$bin/osh-rpc-bench" --gateway "$addr2" \
	--load "${OSH_LOAD:-100}" --calls 2000 --pace-ms "${OSH_LOAD_PACE_MS:-100}" \
	--tap-dir "$tmp/taps2")
echo "$out"
p99=$(echo "$out" | awk '$1 == "poll_p99_under_load_ms" {print $2}')
if awk -v v="$p99" 'BEGIN { exit !(v <= 50) }'; then
	echo "poll_p99_under_load_target PASS (<= 50 ms)"
else
	echo "poll_p99_under_load_target FAIL (${p99} ms > 50 ms)"
	exit 1
fi

# --- store backends (SQLite vs PostgreSQL, one and two gateways)
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	"$root/tools/bench/store-bench.sh" "$bdir"
else
	echo "store_bench skipped (no PostgreSQL server binaries: tools/deps.sh installs postgresql)"
fi
