#!/bin/sh
# samples_valid.sh SAMPLE VALIDATOR MODE: every class's MODE (--minimal or
# --maximal) sample must be produced and validate with 0 invalid lines.
set -u
out=$("$1" --class all "$3") || { echo "FAIL: ocsf-sample $3 exited non-zero"; exit 1; }
n=$(printf '%s\n' "$out" | grep -c .)
[ "$n" -ge 8 ] || { echo "FAIL: only $n sample lines"; exit 1; }
res=$(printf '%s\n' "$out" | "$2" -)
rc=$?
printf '%s\n' "$res"
[ "$rc" -eq 0 ] || { echo "FAIL: validator exit $rc"; exit 1; }
printf '%s\n' "$res" | grep -q "^$n lines, $n valid, 0 invalid\$" || { echo "FAIL: summary"; exit 1; }
exit 0
