#!/usr/bin/env bash
# proxy-bench.sh - egress proxy throughput against tinyproxy, same run, same
# loopback origin, same load generator (8 client threads, a new connection
# per request; build/bin/osh-proxy-bench).
# Usage: tools/bench/proxy-bench.sh [BUILD_DIR] [--seconds N] [--rounds N]
#
# Measured (requests/s, best of --rounds interleaved rounds each):
#   tinyproxy_connect / tinyproxy_forward   tinyproxy 1.11, logging off
#                                           (LogLevel Critical, LogFile /dev/null)
#   ours_connect / ours_forward             osh-proxy with full OCSF logging
#                                           (shorthand + JSONL), client identity
#                                           resolved and policy checked per request
#   ours_min_connect / ours_min_forward     osh-proxy with logging minimal
#                                           (shorthand only, JSONL off)
# Ratios and targets:
#   connect_ratio = ours_connect / tinyproxy_connect   >= 2
#   forward_ratio = ours_forward / tinyproxy_forward   >= 2
#   logging_cost_ratio = ours (JSONL on) / ours (minimal), connect and
#                        forward summed                >= 0.9
# Bounds, same run, same load generator (no target):
#   relay_connect / relay_forward   `osh-proxy-bench relay`, a null proxy
#                                   (read head, connect, relay; no parsing,
#                                   policy, identity or logging): the floor
#                                   any proxy pays here (loopback TCP work
#                                   for two connections per request)
#   direct_forward                  the load generator straight to the
#                                   origin, no proxy: the ceiling (its
#                                   `_cpu` is the origin's, for scale)
#   relay_ratio_* = relay / tinyproxy: what a proxy doing nothing but
#                   relaying reaches against tinyproxy in this bench
# Also printed (no target): the load generator's own CPU per request
# (`_load_cpu`: the client's share, the same for every proxy when the bench
# is fair), each proxy's own CPU time per request (`_cpu`,
# microseconds: osh-proxy's getrusage, tinyproxy's /proc/<pid>/stat) and
# cpu_per_request_ratio_* = tinyproxy's / ours (> 1: ours is cheaper), the
# figure that survives a loaded machine better than requests/s.
# TLS termination (issue 14, docs/l7.md), same run, an HTTPS origin (the same
# generator, --tls: a P-256 certificate from a test CA made here with the
# openssl CLI; our proxy trusts it through --l7-upstream-ca), both through
# osh-proxy with full logging, 8 client threads:
#   tls_tunnel        the origin's endpoint is L4 only: CONNECT, opaque tunnel,
#                     the client's TLS ends at the origin
#   tls_terminated    the same endpoint with `protocol: rest` (access: full,
#                     enforce): TLS terminated with a minted leaf, a verified
#                     TLS connection to the origin, every request decided by
#                     the REST rules and logged (L7_REQUEST_ALLOW)
#   each with a new connection per request (_1: a full handshake per request,
#   two of them on the terminated path) and with 20 keep-alive requests per
#   connection (_20).
#   tls_ratio = tls_terminated_1 / tls_tunnel_1       >= 0.5
#   tls_ratio_keepalive = tls_terminated_20 / tls_tunnel_20   (no target)
# --tls-only runs just this part.
# The load generator runs under `osh-proxy --exec` for our proxy (so it is
# the "sandbox command": its pid roots the identity search, as under the
# supervisor) and directly against tinyproxy. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
shift || true
seconds=5
rounds=2
tls_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --tls-only) tls_only=1; shift ;;
    *) echo "proxy-bench: unknown option $1" >&2; exit 2 ;;
  esac
done
proxy="$bdir/bin/osh-proxy"
bench="$bdir/bin/osh-proxy-bench"
for b in "$proxy" "$bench"; do
  [ -x "$b" ] || { echo "proxy-bench: $b not built (cmake --build $bdir)" >&2; exit 2; }
done
command -v tinyproxy >/dev/null || { echo "proxy-bench: tinyproxy not installed (tools/deps.sh)" >&2; exit 2; }

dir=$(mktemp -d /tmp/osh-proxy-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Origin: 4 accept threads answering "200 ok".
"$bench" origin --threads 4 > "$dir/origin.out" &
opid=$!
pids+=($opid)
for _ in $(seq 100); do [ -s "$dir/origin.out" ] && break; sleep 0.05; done
oport=$(awk '{print $2}' "$dir/origin.out")

# ------------------------------------------------------------------ TLS
# A test CA and the origin's certificate (localhost, 127.0.0.1).
tls_part() {
  local pki="$dir/pki" toport k
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
    -out "$pki/ca.pem" -days 2 -subj "/CN=proxy-bench CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/srv.key" \
    -out "$pki/srv.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$pki/ext.cnf"
  openssl x509 -req -in "$pki/srv.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -CAcreateserial -out "$pki/srv.pem" -days 2 -extfile "$pki/ext.cnf" 2>/dev/null
  "$bench" origin --threads 4 --tls "$pki" > "$dir/torigin.out" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/torigin.out" ] && break; sleep 0.05; done
  toport=$(awk '{print $2}' "$dir/torigin.out")
  for k in tunnel terminated; do
    {
      echo "version: 1"
      echo "network_policies:"
      echo "  bench:"
      echo "    endpoints:"
      echo "      - host: localhost"
      echo "        port: $toport"
      echo "        allowed_ips: [127.0.0.1]"
      if [ $k = terminated ]; then
        echo "        protocol: rest"
        echo "        enforcement: enforce"
        echo "        access: full"
      fi
      echo "    binaries:"
      echo "      - path: $(readlink -f "$bench")"
    } > "$dir/tls-$k.yaml"
  done
  run_tls() { # tunnel|terminated per_conn
    local logdir="$dir/logs-tls-$1-$2"
    mkdir -p "$logdir"
    "$proxy" --policy "$dir/tls-$1.yaml" --log-dir "$logdir" --jsonl \
      --l7-upstream-ca "$pki/ca.pem" \
      --exec "$bench" load --origin "$toport" --mode tls --per-conn "$2" --threads 8 \
      --seconds "$seconds" \
      | awk '$1 == "requests_per_s" { r = $2 } $1 == "requests" { n = $2 }
             $1 == "errors" { e = $2 } $1 == "proxy_cpu_us" { c = $2 }
             END { printf "%s %.1f %s\n", r, (n ? c / n : 0), e }'
    rm -rf "$logdir"
  }
  declare -A t
  for k in tunnel_1 terminated_1 tunnel_20 terminated_20; do t[$k]="0 0 0"; done
  for _ in $(seq "$rounds"); do
    for n in 1 20; do
      t[tunnel_$n]=$(best "${t[tunnel_$n]}" "$(run_tls tunnel $n)")
      t[terminated_$n]=$(best "${t[terminated_$n]}" "$(run_tls terminated $n)")
    done
  done
  for k in tunnel_1 terminated_1 tunnel_20 terminated_20; do
    set -- ${t[$k]}
    echo "tls_$k $1 req/s"
    echo "tls_${k}_cpu $2 us/req"
    echo "tls_${k}_errors $3"
  done
  set -- ${t[tunnel_1]}; local a1=$1
  set -- ${t[terminated_1]}; local b1=$1
  set -- ${t[tunnel_20]}; local a20=$1
  set -- ${t[terminated_20]}; local b20=$1
  awk -v a1="$a1" -v b1="$b1" -v a20="$a20" -v b20="$b20" 'BEGIN {
    r = (a1 > 0 ? b1 / a1 : 0); k = (a20 > 0 ? b20 / a20 : 0);
    printf "tls_ratio %.2f\ntls_ratio_keepalive %.2f\n", r, k;
    printf "target tls_ratio>=0.5 %s\n", (r >= 0.5 ? "PASS" : "MISS");
  }'
}
# keeps the run with the most requests/s (its CPU figure with it)
best() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); print (x[1] > y[1] ? a : b) }'; }
if [ "$tls_only" = 1 ]; then
  tls_part
  exit 0
fi

# tinyproxy on a free port, logging off, CONNECT allowed to the origin port.
tport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/tinyproxy.conf" <<EOF
Port $tport
Listen 127.0.0.1
Timeout 60
MaxClients 1024
LogLevel Critical
LogFile "/dev/null"
Allow 127.0.0.1
ConnectPort $oport
EOF
# The null relay (16 threads, one connection each at a time).
"$bench" relay --origin "$oport" --threads 16 > "$dir/relay.out" &
rpid=$!
pids+=($rpid)
for _ in $(seq 100); do [ -s "$dir/relay.out" ] && break; sleep 0.05; done
rport=$(awk '{print $2}' "$dir/relay.out")

tinyproxy -d -c "$dir/tinyproxy.conf" > /dev/null 2>&1 &
tpid=$!
pids+=($tpid)
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$tport") 2>/dev/null && break
  sleep 0.05
done

# Our policy: the load generator may reach the origin (admitted loopback).
cat > "$dir/policy.yaml" <<EOF
version: 1
network_policies:
  bench:
    endpoints:
      - host: localhost
        port: $oport
        allowed_ips: [127.0.0.1, "::1"]
    binaries:
      - path: $(readlink -f "$bench")
EOF

# Each run prints "<requests/s> <proxy CPU microseconds per request>".
run_ours() { # mode jsonl(0/1)
  local logdir="$dir/logs-$1-$2"
  local extra=()
  mkdir -p "$logdir"
  [ "$2" = 1 ] && extra=(--jsonl)
  "$proxy" --policy "$dir/policy.yaml" --log-dir "$logdir" "${extra[@]}" \
    --exec "$bench" load --origin "$oport" --mode "$1" --threads 8 --seconds "$seconds" \
    | awk '$1 == "requests_per_s" { r = $2 } $1 == "requests" { n = $2 }
           $1 == "load_cpu_us_per_request" { l = $2 }
           $1 == "proxy_cpu_us" { c = $2 } END { printf "%s %.1f %.1f\n", r, (n ? c / n : 0), l }'
  rm -rf "$logdir"
}
cpu_us() { # utime + stime of a pid, in microseconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"
}
run_other() { # pid port mode: tinyproxy, the relay, or the origin itself (direct)
  local c0 out
  c0=$(cpu_us "$1")
  out=$("$bench" load --proxy "$2" --origin "$oport" --mode "$3" --threads 8 --seconds "$seconds")
  echo "$out" | awk -v c0="$c0" -v c1="$(cpu_us "$1")" '
    $1 == "requests_per_s" { r = $2 } $1 == "requests" { n = $2 }
    $1 == "load_cpu_us_per_request" { l = $2 }
    END { printf "%s %.1f %.1f\n", r, (n ? (c1 - c0) / n : 0), l }'
}
# keeps the run with the most requests/s (its CPU figure with it)
best() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); print (x[1] > y[1] ? a : b) }'; }

declare -A r
for k in tinyproxy_connect tinyproxy_forward ours_connect ours_forward ours_min_connect \
  ours_min_forward relay_connect relay_forward direct_forward; do
  r[$k]="0 0 0"
done
for _ in $(seq "$rounds"); do
  for m in connect forward; do
    r[tinyproxy_$m]=$(best "${r[tinyproxy_$m]}" "$(run_other "$tpid" "$tport" $m)")
    r[ours_$m]=$(best "${r[ours_$m]}" "$(run_ours $m 1)")
    r[ours_min_$m]=$(best "${r[ours_min_$m]}" "$(run_ours $m 0)")
    r[relay_$m]=$(best "${r[relay_$m]}" "$(run_other "$rpid" "$rport" $m)")
  done
  # the origin answers an absolute-form GET too: no proxy at all
  r[direct_forward]=$(best "${r[direct_forward]}" "$(run_other "$opid" "$oport" forward)")
done
for k in tinyproxy_connect ours_connect ours_min_connect relay_connect tinyproxy_forward \
  ours_forward ours_min_forward relay_forward direct_forward; do
  set -- ${r[$k]}
  echo "$k $1 req/s"
  echo "${k}_cpu $2 us/req"
  echo "${k}_load_cpu $3 us/req"
done
rate() { set -- ${r[$1]}; echo "$1"; }
cpu() { set -- ${r[$1]}; echo "$2"; }
awk -v tc="$(rate tinyproxy_connect)" -v tf="$(rate tinyproxy_forward)" \
    -v oc="$(rate ours_connect)" -v of="$(rate ours_forward)" \
    -v mc="$(rate ours_min_connect)" -v mf="$(rate ours_min_forward)" \
    -v tcc="$(cpu tinyproxy_connect)" -v tfc="$(cpu tinyproxy_forward)" \
    -v occ="$(cpu ours_connect)" -v ofc="$(cpu ours_forward)" \
    -v rc="$(rate relay_connect)" -v rf="$(rate relay_forward)" 'BEGIN {
  c = oc / tc; f = of / tf; l = (oc + of) / (mc + mf);
  printf "connect_ratio %.2f\nforward_ratio %.2f\nlogging_cost_ratio %.2f\n", c, f, l;
  if (occ > 0 && ofc > 0)
    printf "cpu_per_request_ratio_connect %.2f\ncpu_per_request_ratio_forward %.2f\n", tcc / occ, tfc / ofc;
  printf "relay_ratio_connect %.2f\nrelay_ratio_forward %.2f\n", rc / tc, rf / tf;
  printf "target connect_ratio>=2 %s\n", (c >= 2 ? "PASS" : "MISS");
  printf "target forward_ratio>=2 %s\n", (f >= 2 ? "PASS" : "MISS");
  printf "target logging_cost_ratio>=0.9 %s\n", (l >= 0.9 ? "PASS" : "MISS");
}'
tls_part
