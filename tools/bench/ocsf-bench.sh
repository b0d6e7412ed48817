#!/usr/bin/env bash
# ocsf-bench.sh - OCSF serializer bench: build+serialize of the representative
# CONNECT-allow Network Activity event vs the byte-identical JSON from cJSON
# in the same run (ratio), the whole log-site path (build + osh_emit: enrich,
# shorthand, JSON, enqueue), and heap allocations per event on our path.
# With valgrind installed it also counts instructions per event under
# callgrind (repeatable on a shared machine, unlike times):
#   site_instructions_per_event        build + osh_emit, the whole log site
#   build_serialize_instructions_per_event
#   cjson_instructions_per_event       the cJSON baseline of the same JSON
# Usage: tools/bench/ocsf-bench.sh [BUILD_DIR] [-n N]
# Prints `name value unit` lines, then the target checks:
#   speedup_vs_cjson >= 10, ocsf_heap_allocs == 0 and (with valgrind)
#   site_instructions_per_event <= 10000
set -euo pipefail
cd "$(dirname "$0")/../.."
bdir=${1:-build}
shift || true
bin="$bdir/bin/ocsf-bench"
[ -x "$bin" ] || { echo "ocsf-bench: $bin not built (cmake --build $bdir --target ocsf-bench)" >&2; exit 2; }
out=$("$bin" "$@")
echo "$out"
site_ipe=
if command -v valgrind >/dev/null; then
  tmp=$(mktemp -d /tmp/ocsf-bench-cg-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  n=2000
  rounds=5 # ROUNDS in src/tools/ocsf-bench.c
  for fn in round_site round_ours round_cjson; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/$fn.out" --toggle-collect=$fn \
      "$bin" -n $n >/dev/null 2>"$tmp/$fn.err" || { cat "$tmp/$fn.err" >&2; exit 1; }
    total=$(awk '$1 == "summary:" || $1 == "totals:" { print $2; exit }' "$tmp/$fn.out")
    ipe=$(awk -v t="$total" -v e=$((n * rounds)) 'BEGIN { printf "%.0f", t / e }')
    case $fn in
      round_site) echo "site_instructions_per_event $ipe instructions"; site_ipe=$ipe ;;
      round_ours) echo "build_serialize_instructions_per_event $ipe instructions" ;;
      round_cjson) echo "cjson_instructions_per_event $ipe instructions" ;;
    esac
  done
fi
echo "$out" | awk -v s="$site_ipe" '
  $1 == "speedup_vs_cjson" { r = $2 }
  $1 == "ocsf_heap_allocs" { a = $2 }
  $1 == "site_heap_allocs" { b = $2 }
  END {
    printf "target speedup_vs_cjson>=10 %s\n", (r >= 10 ? "PASS" : "MISS");
    printf "target ocsf_heap_allocs==0 %s\n", (a == 0 && b == 0 ? "PASS" : "MISS");
    if (s != "")
      printf "target site_instructions_per_event<=10000 %s\n", (s <= 10000 ? "PASS" : "MISS");
  }'
