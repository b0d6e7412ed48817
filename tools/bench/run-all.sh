#!/usr/bin/env bash
# run-all.sh [BUILD_DIR] - every benchmark, one after the other, each printing
# `name value unit` lines and its own target checks. Read ratios, not absolute
# times: each bench measures its baseline in the same run on the same machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bdir=${1:-$here/../../build}
rc=0
for b in ocsf-bench convert-bench emit-bench rpc-bench proxy-bench confine-bench netns-bench export-bench ssh-bench; do
  echo "== $b"
  "$here/$b.sh" "$bdir" || rc=1
done
exit $rc
