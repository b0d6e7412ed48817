#!/bin/sh
# sandbox-tap.sh - test/bench-only stand-in in front of openshell-sandbox.
#
# DESIGN: the gateway hands each supervisor its address and per-sandbox
# credential on fd 3 (--bootstrap-fd 3). Tests that act as a sandbox's
# supervisor (pushing logs, polling the policy) need that credential, so this
# wrapper keeps a copy in $OSH_TAP_DIR/boot.<sandbox-id> (0600) and then runs
# the real supervisor ($OSH_TAP_REAL) with the same bootstrap on fd 3.
set -eu
sid=""
prev=""
for a in "$@"; do
	if [ "$prev" = "--sandbox-id" ]; then sid="$a"; fi
	prev="$a"
done
umask 077
cat <&3 >"$OSH_TAP_DIR/boot.$sid.tmp"
exec 3<&-
mv "$OSH_TAP_DIR/boot.$sid.tmp" "$OSH_TAP_DIR/boot.$sid"
exec "$OSH_TAP_REAL" "$@" 3<"$OSH_TAP_DIR/boot.$sid"
