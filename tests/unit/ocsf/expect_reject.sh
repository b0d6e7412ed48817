#!/bin/sh
# expect_reject.sh VALIDATOR FIXTURE PATTERN: the validator must reject the
# fixture (exit 1, "1 invalid") and name the problem (PATTERN, grep -E).
set -u
out=$("$1" "$2" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 1 ] || { echo "FAIL: exit status $rc, expected 1"; exit 1; }
printf '%s\n' "$out" | grep -q '^1 lines, 0 valid, 1 invalid$' || { echo "FAIL: summary"; exit 1; }
printf '%s\n' "$out" | grep -Eq "$3" || { echo "FAIL: no message matching /$3/"; exit 1; }
exit 0
