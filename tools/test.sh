#!/usr/bin/env bash
# Configure, build and run every test. Environment:
#   OSH_BUILD_DIR (default build), OSH_SANITIZE=ON for ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
bdir=${OSH_BUILD_DIR:-build}
san=${OSH_SANITIZE:-OFF}
cmake -S . -B "$bdir" -G Ninja -DOSH_SANITIZE="$san" -DOSH_TESTS=ON >/dev/null
cmake --build "$bdir" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$bdir" --output-on-failure -j"$(nproc)"
