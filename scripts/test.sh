#!/usr/bin/env bash
# Builds Loom in Release and runs the whole test suite (the README's test
# command; CI runs exactly this through .ci/run).
#
#   bash scripts/test.sh              # build into ./build and run ctest
#   BUILD_DIR=out bash scripts/test.sh
#   CMAKE_ARGS="-DLOOM_NATIVE=OFF" bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install_deps

BUILD_DIR=${BUILD_DIR:-build}
JOBS=$(nproc)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j"$JOBS" --timeout 600
