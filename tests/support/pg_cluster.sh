#!/usr/bin/env bash
# pg_cluster.sh - runs a command next to a temporary PostgreSQL cluster.
#
#   tests/support/pg_cluster.sh COMMAND [ARGS...]
#
# DESIGN: the PostgreSQL store tests need a real server but no system service:
# this creates a cluster in a fresh temp dir with Debian's initdb (as the
# `postgres` user when run as root, since initdb refuses root), starts it with
# pg_ctl listening only on a Unix socket in that dir (listen_addresses='', so no
# TCP port is opened), runs COMMAND with OSH_TEST_PG_DIR=<socket dir> and
# OSH_TEST_PG_USER=<role> (and OSH_TEST_PG_STOP/START, below) in its environment, then stops the cluster and removes
# the dir on every exit path. The command's exit status is the script's.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "pg_cluster.sh: PostgreSQL server binaries not found (apt-get install postgresql;" \
       "tools/deps.sh installs it)" >&2
  exit 2
fi
dir=$(mktemp -d /tmp/osh-pg.XXXXXX)
as=()
user=$(id -un)
if [[ $(id -u) -eq 0 ]]; then
  user=postgres
  chown postgres: "$dir"
  as=(runuser -u postgres --)
fi
cleanup() {
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as[@]}" "$bindir/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 2; }
start_cmd="${as[*]} $bindir/pg_ctl -D $dir/data -l $dir/server.log -w -t 60 -o \"-c listen_addresses='' -k $dir -c fsync=off -c max_connections=200\" start"
stop_cmd="${as[*]} $bindir/pg_ctl -D $dir/data -m immediate -w stop"
sh -c "$start_cmd" >/dev/null || { cat "$dir/server.log" >&2; exit 2; }
# OSH_TEST_PG_STOP / OSH_TEST_PG_START: shell commands that kill the server
# (immediate mode: like a crash) and start it again, for outage tests.
export OSH_TEST_PG_DIR=$dir OSH_TEST_PG_USER=$user
export OSH_TEST_PG_STOP="$stop_cmd >/dev/null" OSH_TEST_PG_START="$start_cmd >/dev/null"
set +e
"$@"
rc=$?
set -e
exit $rc
