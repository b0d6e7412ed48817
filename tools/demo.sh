#!/usr/bin/env bash
# The main job: build, start a gateway on an embedded SQLite store in a fresh data
# dir, create one sandbox running a demo agent command, and show what it logged:
# the shorthand lines pushed to the gateway (`openshell sandbox logs`), then JSONL
# switched on live and the OCSF events it wrote, validated against the schema.
# Usage: tools/demo.sh [DATA_DIR]       (default: a new temp dir, kept for reading)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools/deps.sh
bdir=${OSH_BUILD_DIR:-build}
[ -f "$bdir/CMakeCache.txt" ] || cmake -S . -B "$bdir" -G Ninja >/dev/null
cmake --build "$bdir" -j"$(nproc)" --target openshell openshell-gateway openshell-sandbox >/dev/null
bin=$root/$bdir/bin

data=${1:-$(mktemp -d /tmp/openshell-demo.XXXXXX)}
mkdir -p "$data"
gw_pid=
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT

# wait_for DESC SECONDS CMD...: poll a condition with a deadline.
wait_for() {
  local desc=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then echo "demo: timed out waiting for $desc" >&2; exit 1; fi
    sleep 0.1
  done
}

echo "== gateway (data dir $data)"
rm -f "$data/gateway.addr"
# Supervisors the gateway starts inherit its environment: poll config every second.
OPENSHELL_POLL_INTERVAL=1s \
  "$bin/openshell-gateway" --data-dir "$data" 2>"$data/gateway.stderr" &
gw_pid=$!
wait_for "the gateway to listen" 20 test -s "$data/gateway.addr"
export OPENSHELL_GATEWAY=$(cat "$data/gateway.addr")
echo "gateway listening on $OPENSHELL_GATEWAY"

echo "== sandbox 'demo' running a small agent loop (confined: sandbox user, Landlock, seccomp)"
"$bin/openshell" sandbox create --name demo -- \
  sh -c 'echo "agent runs as $(id -un)";
         echo note > /tmp/agent-note && echo "allowed: wrote /tmp/agent-note (read-write path)";
         cat /etc/shadow >/dev/null 2>&1 || echo "denied: read /etc/shadow";
         (echo x > /var/tmp/agent-note) 2>/dev/null || echo "denied: write /var/tmp (outside the policy)";
         for i in 1 2 3 4 5 6 7 8 9 10; do echo "agent step $i"; sleep 0.5; done'
"$bin/openshell" sandbox list

logdir="$data/sandboxes/demo/logs"
wait_for "the sandbox's first events" 20 grep -q ' OCSF ' "$logdir/openshell.log"

echo "== JSONL export on, live (no restart)"
"$bin/openshell" config set ocsf_logging_enabled true
wait_for "the JSONL file" 30 test -s "$logdir/openshell-ocsf.log"
wait_for "the sandbox to finish" 30 sh -c "'$bin/openshell' sandbox list | grep -q exited"

echo "== what the agent saw ($logdir/agent.log)"
grep -E ' stdout (agent runs|allowed|denied)' "$logdir/agent.log" | sed 's/^[^ ]* stdout //' || true

echo "== openshell sandbox logs demo"
"$bin/openshell" sandbox logs demo -n 40

echo "== $logdir/openshell-ocsf.log (first event, pretty)"
head -n 1 "$logdir/openshell-ocsf.log" | python3 -m json.tool
echo "== validating every JSONL line against the generated JSON Schema"
tools/ocsf-validate "$logdir/openshell-ocsf.log"
"$bin/openshell" config set ocsf_logging_enabled false >/dev/null
echo "demo data kept in $data"
