#!/usr/bin/env bash
# ssh-bench.sh [BUILD_DIR] [N]  (root: the sandbox gets its namespace and user)
#
# SSH into a sandbox, through the gateway relay vs straight to the same
# libssh server, in one run against one sandbox (docs/ssh.md):
#   sessions/s   N sequential `ssh HOST true`, each a new connection (preface,
#                key exchange, auth "none", one exec);
#   exec rtt     N sequential `ssh HOST true` over one open connection
#                (OpenSSH ControlMaster): the round trip of one exec channel.
# relay: OpenSSH with ProxyCommand `openshell sandbox ssh-proxy` (gRPC
# stream + unary calls through openshell-gateway); direct: OpenSSH with
# osh-nssh-connect (src/nssh/bench), which passes the preface and hands the
# socket to ssh (ProxyUseFdpass), so only the handshake goes through it.
# Output: `name value unit` lines; ratios are relay / direct of this run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-$root/build}
n=${2:-40}
bin=$bdir/bin
tmp=$(mktemp -d /tmp/osh-ssh-bench.XXXXXX)
gw=
cleanup() {
	if [ -n "$gw" ]; then
		"$bin/openshell" --gateway "unix:$tmp/data/gateway.sock" sandbox delete --all \
			>/dev/null 2>&1 || true
		for c in relay direct; do
			ssh -F "$tmp/cfg" -O exit "bench-$c" >/dev/null 2>&1 || true
		done
		kill -TERM "$gw" 2>/dev/null || true
		wait "$gw" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/data" "$tmp/home"
export HOME=$tmp/home
"$bin/openshell-gateway" --data-dir "$tmp/data" 2>"$tmp/gateway.stderr" &
gw=$!
for _ in $(seq 100); do [ -s "$tmp/data/gateway.addr" ] && break; sleep 0.05; done
export OPENSHELL_GATEWAY=unix:$tmp/data/gateway.sock
id=$("$bin/openshell" sandbox create --name bench -- sleep infinity | sed -n 's/.*(id \([0-9a-f-]*\).*/\1/p')
log=$tmp/data/sandboxes/bench/logs/openshell.log
sock=
for _ in $(seq 200); do
	sock=$( (sed -n 's/.*SSH endpoint unix:\([^ ]*\) .* reported.*/\1/p' "$log" 2>/dev/null || true) | tail -1)
	[ -n "$sock" ] && break
	sleep 0.05
done
[ -n "$sock" ] || { echo "ssh-bench: the sandbox reported no SSH endpoint" >&2; exit 1; }
"$bin/openshell" sandbox ssh-config bench >"$tmp/relay.cfg"
kh=$(sed -n 's/ *UserKnownHostsFile //p' "$tmp/relay.cfg")
pc=$(sed -n 's/ *ProxyCommand //p' "$tmp/relay.cfg")
common="User sandbox
    HostKeyAlias openshell-bench
    UserKnownHostsFile $kh
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    PubkeyAuthentication no
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    GSSAPIAuthentication no
    BatchMode yes
    LogLevel ERROR
    ControlPath $tmp/ctl-%n"
cat >"$tmp/cfg" <<CFG
Host bench-relay
    HostName openshell-bench
    ProxyCommand $pc
    $common
Host bench-direct
    HostName openshell-bench
    ProxyCommand $bin/osh-nssh-connect $sock $tmp/data/ssh/$id.secret
    ProxyUseFdpass yes
    $common
CFG
now() { date +%s%N; }
# Interleaved rounds (relay, direct, relay, direct, ...): a load change on a
# shared machine hits both sides alike instead of one.
rounds=4
per=$(((n + rounds - 1) / rounds))
declare -A sess_ns rtt_ns
sess_ns=([relay]=0 [direct]=0)
rtt_ns=([relay]=0 [direct]=0)
for c in relay direct; do
	ssh -F "$tmp/cfg" "bench-$c" true </dev/null # warm-up (and a check)
done
for _ in $(seq "$rounds"); do
	for c in relay direct; do
		t0=$(now)
		for _ in $(seq "$per"); do ssh -F "$tmp/cfg" "bench-$c" true </dev/null; done
		t1=$(now)
		sess_ns[$c]=$((sess_ns[$c] + t1 - t0))
	done
done
for c in relay direct; do
	ssh -F "$tmp/cfg" -o ControlMaster=yes -o ControlPersist=yes -fN "bench-$c" </dev/null
	ssh -F "$tmp/cfg" "bench-$c" true </dev/null
done
for _ in $(seq "$rounds"); do
	for c in relay direct; do
		t0=$(now)
		for _ in $(seq "$per"); do ssh -F "$tmp/cfg" "bench-$c" true </dev/null; done
		t1=$(now)
		rtt_ns[$c]=$((rtt_ns[$c] + t1 - t0))
	done
done
total=$((per * rounds))
declare -A sess rtt
for c in relay direct; do
	sess[$c]=$(awk -v n="$total" -v ns="${sess_ns[$c]}" 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
	rtt[$c]=$(awk -v n="$total" -v ns="${rtt_ns[$c]}" 'BEGIN { printf "%.2f", ns / n / 1e6 }')
done
echo "load_average $(cut -d' ' -f1 /proc/loadavg)"
echo "ssh_sessions_relay ${sess[relay]} sessions/s"
echo "ssh_sessions_direct ${sess[direct]} sessions/s"
awk -v a="${sess[relay]}" -v b="${sess[direct]}" 'BEGIN { printf "ssh_sessions_ratio %.2f relay/direct\n", a / b }'
echo "ssh_exec_rtt_relay ${rtt[relay]} ms"
echo "ssh_exec_rtt_direct ${rtt[direct]} ms"
awk -v a="${rtt[relay]}" -v b="${rtt[direct]}" 'BEGIN { printf "ssh_exec_rtt_ratio %.2f relay/direct\n", a / b }'
