#!/usr/bin/env bash
# Static checks that must stay at zero findings:
#   1. banned calls (sprintf, strcpy, strcat, gets, atoi, vsprintf, strncat)
#      in every C file of src/, generated/c, tests/ and tools/: every call on
#      a line is seen (the pattern is anchored on a word boundary, so
#      snprintf/vsnprintf never match and need no exception);
#   2. cppcheck over src/ and generated/c;
#   3. clang-tidy over src/ (needs a configured build dir with
#      compile_commands.json).
# A missing tool, a missing compile_commands.json, an empty file list or a
# tool that fails to run is a failure, never a silent pass.
# Usage: tools/lint.sh [BUILD_DIR]    (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${1:-build}
rc=0

fail() { echo "lint: $*" >&2; rc=1; }

mapfile -t cfiles < <(git ls-files 'src/*.c' 'src/*.h' 'generated/c/*.c' 'generated/c/*.h' \
                                  'tests/*.c' 'tests/*.h' 'tools/*.c' 'tools/*.h')
[ ${#cfiles[@]} -gt 0 ] || fail "no C files found (not a git checkout?)"
banned='\b(sprintf|vsprintf|strcpy|strcat|strncat|gets|atoi)[[:space:]]*\('
if [ ${#cfiles[@]} -gt 0 ] && grep -nHoE "$banned" "${cfiles[@]}"; then
  fail "banned call(s) above"
fi

if ! command -v cppcheck >/dev/null; then
  fail "cppcheck is not installed (tools/deps.sh installs it)"
elif ! cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
       --enable=warning,portability,performance \
       --suppress=missingIncludeSystem --suppress=unmatchedSuppression \
       -I src/common -I src/ocsf -I generated/c \
       src generated/c 2>&1; then
  fail "cppcheck findings above"
fi

mapfile -t srcs < <(git ls-files 'src/*.c')
if ! command -v clang-tidy >/dev/null; then
  fail "clang-tidy is not installed (tools/deps.sh installs it)"
elif [ ! -f "$bdir/compile_commands.json" ]; then
  fail "$bdir/compile_commands.json is missing (configure $bdir first)"
elif [ ${#srcs[@]} -eq 0 ]; then
  fail "no src/*.c files found"
else
  set +e
  out=$(clang-tidy -p "$bdir" --quiet "${srcs[@]}" 2>&1)
  tidy_rc=$?
  set -e
  if printf '%s\n' "$out" | grep -qE '(warning|error):'; then
    printf '%s\n' "$out" | grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' || true
    fail "clang-tidy findings above"
  elif [ $tidy_rc -ne 0 ]; then
    printf '%s\n' "$out"
    fail "clang-tidy exited $tidy_rc"
  fi
fi
exit $rc
