#!/usr/bin/env bash
# export-bench.sh [BUILD_DIR]
#
# The gateway's OCSF export (docs/siem.md) against Debian's rsyslogd on a
# loopback port (started here with its own config in a temporary dir, never
# the system service), in one run:
#  1. export on: a gateway whose YAML exports every event to rsyslog (syslog,
#     RFC 5424 over TCP). osh-rpc-bench --load N --ocsf-json 1 pushes OCSF
#     lines carrying their JSON from N sandboxes (tools/sandbox-tap.sh in
#     front of /bin/true: no supervisor competes for the CPU) while it
#     measures GetSandboxPolicy latency. The script samples rsyslog's file
#     meanwhile: export_ingest_ratio = (events/s delivered to rsyslog) /
#     (events/s ingested), i.e. the push window / (first to last delivery),
#     target >= 0.9 (export keeps up and its tail is short);
#  2. export off: the same load on a gateway without destinations (the same
#     lines with their JSON, so only the export differs);
#     policy_p99_export_on_vs_off = GetSandboxPolicy p99 under load, on / off
#     (export runs on its own threads: it must not slow the poll).
#  OSH_EXPORT_ROUNDS (default 3) rounds alternate off and on; medians.
# Output: `name value unit` lines, then `target ... PASS|MISS` lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-$root/build}
bin=$bdir/bin
load=${OSH_EXPORT_LOAD:-10}
pace=${OSH_EXPORT_PACE_MS:-50}
calls=${OSH_EXPORT_CALLS:-2000}
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
for b in openshell openshell-gateway osh-rpc-bench; do
	[ -x "$bin/$b" ] || { echo "export-bench: $bin/$b not built" >&2; exit 1; }
done
[ -x "$rsyslogd" ] || { echo "export-bench: rsyslogd missing (tools/deps.sh installs rsyslog)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/osh-export-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/rsyslog"
cat >"$tmp/rsyslog/rsyslog.conf" <<EOF
global(workDirectory="$tmp/rsyslog" maxMessageSize="256k")
module(load="imtcp")
template(name="sd" type="string" string="%structured-data% %msg%\n")
input(type="imtcp" address="127.0.0.1" port="$port")
action(type="omfile" file="$tmp/rsyslog/received.syslog" template="sd")
EOF
"$rsyslogd" -n -f "$tmp/rsyslog/rsyslog.conf" -i "$tmp/rsyslog/rsyslogd.pid" \
	2>"$tmp/rsyslog/stderr" &
pids+=($!)
for _ in $(seq 1 200); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.05
done

# start_gw NAME: a gateway in $tmp/NAME (its gateway.yaml written before); sets $addr.
start_gw() {
	local d=$tmp/$1
	mkdir -m 700 "$d/taps"
	OSH_TAP_DIR="$d/taps" OSH_TAP_REAL=/bin/true \
		"$bin/openshell-gateway" --data-dir "$d" --sandbox-bin "$root/tools/sandbox-tap.sh" \
		2>"$d/gateway.stderr" &
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
	echo "export-bench: gateway $d not ready" >&2
	exit 1
}

received() { grep -c '"bench-' "$tmp/rsyslog/received.syslog" 2>/dev/null || true; }
# the sampler reads only the file's size (O(1)): counting lines of a file
# growing to ~60 MB ten times a second would take the CPU it measures
rsize() { stat -c %s "$tmp/rsyslog/received.syslog" 2>/dev/null || echo 0; }
val() { awk -v k="$1" '$1 == k {print $2}'; }
now() { date +%s.%N; }

# ROUNDS rounds alternate off and on (a fresh gateway each, stopped after
# its run) so a burst of outside load hits both; medians are reported.
stop_last() {
	kill -TERM "${pids[-1]}" 2>/dev/null || true
	wait "${pids[-1]}" 2>/dev/null || true
}
rounds=${OSH_EXPORT_ROUNDS:-3}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for f in ratio p99on p99off ingest deliv; do : >"$tmp/r.$f"; done
tot_stored=0
got=0
for _r in $(seq 1 "$rounds"); do
	mkdir -p "$tmp/off$_r" "$tmp/on$_r"
	: >"$tmp/off$_r/gateway.yaml"
	cat >"$tmp/on$_r/gateway.yaml" <<EOF
export:
  destinations:
    - name: rsyslog
      type: syslog
      address: 127.0.0.1:$port
      batch_max_events: 1000
EOF
	start_gw "off$_r"
	out_off=$("$bin/osh-rpc-bench" --gateway "$addr" --load "$load" --calls "$calls" \
		--pace-ms "$pace" --ocsf-json 1 --tap-dir "$tmp/off$_r/taps")
	echo "$out_off" | val poll_p99_under_load_ms >>"$tmp/r.p99off"
	stop_last

	start_gw "on$_r"
	sleep 1 # the gateway's own start-up events reach rsyslog first

	before=$(received)
	base=$(rsize)
	: >"$tmp/samples"
	(
		while :; do
			echo "$(now) $(rsize)" >>"$tmp/samples"
			sleep 0.05
		done
	) &
	sampler=$!
	pids+=($sampler) # popped again once killed
	out_on=$("$bin/osh-rpc-bench" --gateway "$addr" --load "$load" --calls "$calls" \
		--pace-ms "$pace" --ocsf-json 1 --tap-dir "$tmp/on$_r/taps")
	stored=$(echo "$out_on" | val poll_load_stored_total)
	ingest=$(echo "$out_on" | val poll_load_stored)
	for _ in $(seq 1 600); do
		[ "$(received)" -ge $((before + stored)) ] && break
		sleep 0.2
	done
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	unset 'pids[-1]'
	got=$(($(received) - before + got))
	tot_stored=$((tot_stored + stored))
	final=$(rsize)
	# delivery window: first sample past this round's sandbox creations
	# (base + 64 KiB, ~50 events) -> first sample at the final size
	read -r t_first t_last <<<"$(awk -v b="$((base + 65536))" -v n="$final" '
		$2 > b && !f { f = $1 } $2 >= n && !l { l = $1 } END { print f, l }' "$tmp/samples")"
	# (parenthesised: a bare `>` in awk's printf arguments is a redirection)
	push_s=$(awk -v s="$stored" -v r="$ingest" 'BEGIN { printf "%.3f", (r > 0 ? s / r : 0) }')
	deliver_s=$(awk -v a="$t_first" -v b="$t_last" 'BEGIN { printf "%.3f", (b > a ? b - a : 0) }')
	awk -v s="$stored" -v d="$deliver_s" 'BEGIN { printf "%.0f\n", (d > 0 ? s / d : 0) }' >>"$tmp/r.deliv"
	awk -v p="$push_s" -v d="$deliver_s" 'BEGIN { printf "%.3f\n", (d > 0 ? p / d : 0) }' >>"$tmp/r.ratio"
	echo "$ingest" >>"$tmp/r.ingest"
	echo "$out_on" | val poll_p99_under_load_ms >>"$tmp/r.p99on"
	stop_last
done
stored=$tot_stored
ratio=$(median <"$tmp/r.ratio")
p99_on=$(median <"$tmp/r.p99on")
p99_off=$(median <"$tmp/r.p99off")
p99_ratio=$(awk -v a="$p99_on" -v b="$p99_off" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')

echo "export_rounds $rounds rounds"
echo "export_load_sandboxes $load sandboxes"
echo "export_events_ingested $stored events"
echo "export_events_delivered $got events"
echo "export_ingest_rate $(median <"$tmp/r.ingest") events/s"
echo "export_delivered_rate $(median <"$tmp/r.deliv") events/s"
echo "export_ingest_ratio $ratio ratio (rounds: $(tr '\n' ' ' <"$tmp/r.ratio"))"
echo "policy_p99_export_on $p99_on ms (rounds: $(tr '\n' ' ' <"$tmp/r.p99on"))"
echo "policy_p99_export_off $p99_off ms (rounds: $(tr '\n' ' ' <"$tmp/r.p99off"))"
echo "policy_p99_export_on_vs_off $p99_ratio ratio"
if [ "$got" -lt "$stored" ]; then
	echo "target export_complete MISS ($got of $stored events reached rsyslog)"
else
	echo "target export_complete PASS"
fi
if awk -v r="$ratio" 'BEGIN { exit !(r >= 0.9) }'; then
	echo "target export_ingest_ratio>=0.9 PASS"
else
	echo "target export_ingest_ratio>=0.9 MISS"
fi
