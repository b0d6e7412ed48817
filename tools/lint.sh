#!/usr/bin/env bash
# Static checks that must stay at zero findings:
#   1. banned calls (sprintf, strcpy, strcat, gets, atoi, vsprintf, strncat)
#   2. cppcheck over src/ and generated/c
#   3. clang-tidy over src/ (needs a configured build dir with compile_commands.json)
# Usage: tools/lint.sh [BUILD_DIR]    (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${1:-build}
rc=0

banned='\b(sprintf|vsprintf|strcpy|strcat|strncat|gets|atoi)[[:space:]]*\('
if grep -rnE "$banned" src generated/c --include='*.c' --include='*.h' \
     | grep -vE 'snprintf|vsnprintf'; then
  echo "lint: banned call(s) above" >&2
  rc=1
fi

if command -v cppcheck >/dev/null; then
  if ! cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
       --enable=warning,portability,performance \
       --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
       -I src/common -I src/ocsf -I generated/c \
       src generated/c 2>&1; then
    echo "lint: cppcheck findings above" >&2
    rc=1
  fi
fi

if command -v clang-tidy >/dev/null && [ -f "$bdir/compile_commands.json" ]; then
  mapfile -t files < <(git ls-files 'src/*.c')
  if [ ${#files[@]} -gt 0 ]; then
    out=$(clang-tidy -p "$bdir" --quiet "${files[@]}" 2>/dev/null || true)
    if printf '%s\n' "$out" | grep -qE '(warning|error):'; then
      printf '%s\n' "$out"
      echo "lint: clang-tidy findings above" >&2
      rc=1
    fi
  fi
fi
exit $rc
