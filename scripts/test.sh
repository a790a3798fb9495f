#!/usr/bin/env bash
# Builds Loom in Release and runs the whole test suite (the README's test
# command; CI runs exactly this through .ci/run).
#
#   bash scripts/test.sh              # build into ./build and run ctest
#   BUILD_DIR=out bash scripts/test.sh
#   CMAKE_ARGS="-DLOOM_NATIVE=OFF" bash scripts/test.sh
#   LOOM_WITH_ONEDNN=OFF bash scripts/test.sh   # without the oneDNN backend
#
# The oneDNN CPU backend is built (ON by default here), so the suite runs on
# it as the default CPU backend, plus the reference backend's own parity
# runs and the oneDNN-vs-reference consistency tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install_deps

BUILD_DIR=${BUILD_DIR:-build}
JOBS=$(nproc)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DLOOM_WITH_ONEDNN="${LOOM_WITH_ONEDNN:-ON}" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j"$JOBS" --timeout 600
