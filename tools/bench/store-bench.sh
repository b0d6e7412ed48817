#!/usr/bin/env bash
# store-bench.sh [BUILD_DIR]  (run by rpc-bench.sh; needs Debian's postgresql)
#
# PushSandboxLogs ingestion (8 streams, osh-rpc-bench) and GetSandboxPolicy
# calls/s on the SQLite store and on the PostgreSQL store in the same run, then
# with two gateways on one PostgreSQL database (one sandbox each, both benches
# at once). Every gateway runs with --sandbox-bin tools/sandbox-tap.sh over
# /bin/true, so no supervisor competes for the CPU and the bench has each
# sandbox's credential. The PostgreSQL cluster is a temporary one on a Unix
# socket (tests/support/pg_cluster.sh runs this script inside it). Last, the
# shared config: how long a value set through one gateway takes to be served
# by the other (polled with `openshell config get`), against the same loop on
# the gateway that set it.
# Output: `name value unit` lines; ratios are against the SQLite figure (or
# one PostgreSQL gateway) measured in this run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-$root/build}
bin=$bdir/bin
if [ -z "${OSH_TEST_PG_DIR:-}" ]; then
	exec "$root/tests/support/pg_cluster.sh" "$0" "$bdir"
fi
tmp=$(mktemp -d /tmp/osh-store-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
uri="postgresql:///postgres?host=$OSH_TEST_PG_DIR&user=${OSH_TEST_PG_USER:-postgres}"

# start_gw NAME [--store X]: a gateway in $tmp/NAME; sets $addr.
start_gw() {
	local d=$tmp/$1
	shift
	mkdir -p "$d" && mkdir -m 700 "$d/taps"
	OSH_TAP_DIR="$d/taps" OSH_TAP_REAL=/bin/true \
		"$bin/openshell-gateway" --data-dir "$d" --sandbox-bin "$root/tools/sandbox-tap.sh" \
		"$@" 2>"$d/gateway.stderr" &
	pids+=($!)
	addr=
	for _ in $(seq 1 400); do
		if [ -s "$d/gateway.addr" ]; then
			addr=$(cat "$d/gateway.addr")
			"$bin/openshell" --gateway "$addr" config get >/dev/null 2>&1 && return 0
		fi
		kill -0 "${pids[-1]}" 2>/dev/null || { cat "$d/gateway.stderr" >&2; exit 1; }
		sleep 0.05
	done
	echo "store-bench: gateway $d not ready" >&2
	exit 1
}

# make_box GWNAME ADDR BOX: creates a sandbox; prints its credential (waits
# for the credential line itself: the tap creates boot.<id> before writing it).
make_box() {
	local c=
	"$bin/openshell" --gateway "$2" sandbox create --name "$3" -- true >/dev/null
	for _ in $(seq 1 200); do
		c=$(sed -n 's/^credential=//p' "$tmp/$1"/taps/boot.* 2>/dev/null | head -1)
		[ -n "$c" ] && break
		sleep 0.05
	done
	[ -n "$c" ] || { echo "store-bench: no credential for $3" >&2; exit 1; }
	echo "$c"
}

val() { awk -v k="$1" '$1 == k {print $2}'; }

start_gw sqlite
a_sq=$addr
cred=$(make_box sqlite "$a_sq" bench)
out_sq=$(OSH_BENCH_CREDENTIAL=$cred "$bin/osh-rpc-bench" --gateway "$a_sq" --sandbox bench)
start_gw pg1 --store "$uri"
a_p1=$addr
cred1=$(make_box pg1 "$a_p1" bench-a)
# How busy the host's CPUs were during the one-gateway run (/proc/stat): a
# second gateway can only add throughput when this is well below 1.
cpu_busy_idle() { awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
read -r busy0 idle0 <<<"$(cpu_busy_idle)"
out_p1=$(OSH_BENCH_CREDENTIAL=$cred1 "$bin/osh-rpc-bench" --gateway "$a_p1" --sandbox bench-a)
read -r busy1 idle1 <<<"$(cpu_busy_idle)"
cpu_p1=$(awk -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) 'BEGIN { printf "%.2f", b / (b + i) }')
start_gw pg2 --store "$uri"
a_p2=$addr
cred2=$(make_box pg2 "$a_p2" bench-b)
# both gateways at once, one sandbox each (a supervisor talks to the gateway
# that created it: docs/gateway.md "Several gateways on one database")
OSH_BENCH_CREDENTIAL=$cred1 "$bin/osh-rpc-bench" --gateway "$a_p1" --sandbox bench-a \
	>"$tmp/two-a.out" &
b1=$!
OSH_BENCH_CREDENTIAL=$cred2 "$bin/osh-rpc-bench" --gateway "$a_p2" --sandbox bench-b \
	>"$tmp/two-b.out" &
b2=$!
wait $b1
wait $b2

# Shared config: a value set through A (pg1), then `config get` on B (pg2)
# polled until it serves it. Baseline: the same loop polling A itself (the
# CLI's own round trips), in this run. 20 flips each; milliseconds.
now_ms() { date +%s%3N; }
sync_ms() { # sync_ms SET_ADDR GET_ADDR -> "median max"
	local v t0 i ms=()
	for i in $(seq 1 20); do
		if ((i % 2)); then v=true; else v=false; fi
		t0=$(now_ms)
		"$bin/openshell" --gateway "$1" config set ocsf_logging_enabled "$v" >/dev/null
		for _ in $(seq 1 400); do
			"$bin/openshell" --gateway "$2" config get ocsf_logging_enabled |
				grep -q "= $v " && break
		done
		ms+=($(($(now_ms) - t0)))
	done
	printf '%s\n' "${ms[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[NR]}'
}
cfg_same=$(sync_ms "$a_p1" "$a_p1")
cfg_other=$(sync_ms "$a_p1" "$a_p2")

sq_push=$(echo "$out_sq" | val rpc_push_gateway)
p1_push=$(echo "$out_p1" | val rpc_push_gateway)
two_a=$(val rpc_push_gateway <"$tmp/two-a.out")
two_b=$(val rpc_push_gateway <"$tmp/two-b.out")
sq_pol=$(echo "$out_sq" | val rpc_policy_gateway)
p1_pol=$(echo "$out_p1" | val rpc_policy_gateway)
for v in "$sq_push" "$p1_push" "$two_a" "$two_b" "$sq_pol" "$p1_pol"; do
	[ -n "$v" ] || { echo "store-bench: a bench run printed no figure" >&2; exit 1; }
done
awk -v sq="$sq_push" -v p1="$p1_push" -v a="$two_a" -v b="$two_b" -v sqp="$sq_pol" \
	-v p1p="$p1_pol" -v cpu="$cpu_p1" 'BEGIN {
	printf "store_push_sqlite %.0f lines/s\n", sq
	printf "store_push_pg_one_gateway %.0f lines/s\n", p1
	printf "store_push_pg_vs_sqlite %.3f ratio\n", p1 / sq
	printf "store_push_pg_two_gateways %.0f lines/s\n", a + b
	printf "pg_two_gateway_ratio %.3f ratio\n", (a + b) / p1
	printf "store_pg_one_gateway_cpu_busy %s fraction\n", cpu
	printf "store_policy_sqlite %.0f calls/s\n", sqp
	printf "store_policy_pg %.0f calls/s\n", p1p
	printf "store_policy_pg_vs_sqlite %.3f ratio\n", p1p / sqp
}'
{
	read -r same_med same_max <<<"$cfg_same"
	read -r oth_med oth_max <<<"$cfg_other"
	echo "config_set_seen_same_gateway_ms $same_med ms (max $same_max)"
	echo "config_set_seen_other_gateway_ms $oth_med ms (max $oth_max)"
	awk -v a="$same_med" -v b="$oth_med" \
		'BEGIN { printf "config_sync_other_vs_same %.2f ratio\n", b / (a > 0 ? a : 1) }'
}
