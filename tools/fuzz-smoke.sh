#!/usr/bin/env bash
# Build every libFuzzer target with clang and run the fuzz ctests: a short
# smoke run per target, the committed seeds, and the reproducers of past
# findings (regressions). Usage: tools/fuzz-smoke.sh [BUILD_DIR] (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${1:-build-fuzz}
cmake -S . -B "$bdir" -G Ninja -DCMAKE_C_COMPILER=clang -DOSH_FUZZ=ON -DOSH_TESTS=ON >/dev/null
cmake --build "$bdir" --target fuzz_all -j"$(nproc)"
ctest --test-dir "$bdir" -R '^fuzz_' --no-tests=error --output-on-failure -j"$(nproc)"
