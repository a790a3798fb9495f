#!/usr/bin/env bash
# Builds Loom in Release and runs the whole test suite (the README's test
# command; CI runs exactly this through .ci/run).
#
#   bash scripts/test.sh              # build into ./build and run ctest
#   BUILD_DIR=out bash scripts/test.sh
#   CMAKE_ARGS="-DLOOM_NATIVE=ON" bash scripts/test.sh   # tuned to this CPU only
#   LOOM_WITH_ONEDNN=OFF bash scripts/test.sh   # without the oneDNN backend
#   LOOM_WITH_CUDA=OFF bash scripts/test.sh     # without the CUDA backend
#   LOOM_WITH_HDF5=OFF bash scripts/test.sh     # without Keras model files
#   LOOM_WITH_MPI=OFF bash scripts/test.sh      # without data-parallel training (mpirun)
#   LOOM_SANITIZERS=OFF bash scripts/test.sh    # without the ASan/UBSan, TSan and fuzz runs
#
# The oneDNN CPU backend is built (ON by default here), so the suite runs on
# it as the default CPU backend, plus the reference backend's own parity
# runs and the oneDNN-vs-reference consistency tests. The CUDA backend is
# built too whenever the CUDA toolkit is at /usr/local/cuda (so its code
# never rots on machines without a GPU); its device tests and cuda parity
# runs skip when no GPU is visible, its host-side tests always run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install_deps

BUILD_DIR=${BUILD_DIR:-build}
JOBS=$(nproc)
if [ -z "${LOOM_WITH_CUDA:-}" ]; then
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    LOOM_WITH_CUDA=ON
  else
    LOOM_WITH_CUDA=OFF
    echo "scripts/test.sh: no CUDA toolkit at /usr/local/cuda: building without the CUDA backend" >&2
  fi
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DLOOM_WITH_ONEDNN="${LOOM_WITH_ONEDNN:-ON}" -DLOOM_WITH_CUDA="$LOOM_WITH_CUDA" \
  -DLOOM_WITH_HDF5="${LOOM_WITH_HDF5:-ON}" -DLOOM_WITH_MPI="${LOOM_WITH_MPI:-ON}" \
  -DLOOM_WITH_NCCL="${LOOM_WITH_NCCL:-$LOOM_WITH_CUDA}" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$JOBS"
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$JOBS" --timeout 600)

# Then the same suite under AddressSanitizer + UBSan, the thread tests under
# ThreadSanitizer, and the fuzz targets (corpus replay plus a short run
# each). LOOM_SANITIZERS=OFF skips all three (a quicker local check; CI
# runs them).
if [ "${LOOM_SANITIZERS:-ON}" != "OFF" ]; then
  bash scripts/sanitizers.sh asan
  bash scripts/sanitizers.sh tsan
  bash scripts/fuzz.sh build-fuzz "${LOOM_FUZZ_SECONDS:-30}"
fi
