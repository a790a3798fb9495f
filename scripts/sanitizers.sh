#!/usr/bin/env bash
# The test suite under the sanitizers (run by scripts/test.sh, so by CI):
#
#   bash scripts/sanitizers.sh asan   # AddressSanitizer + UndefinedBehaviorSanitizer,
#                                     # the whole suite, reference and oneDNN backends
#   bash scripts/sanitizers.sh tsan   # ThreadSanitizer, the tests that use threads
#
# Any report fails the run: the code is built with -fno-sanitize-recover=all
# and the runtime options below make every report an error exit.
#
# Left out of the ASan run, and why:
#   qemu_*     run the programs under qemu-user, which cannot host ASan's
#              shadow memory; those tests are about instruction sets, and the
#              same programs run natively under ASan in this suite.
#   install_*  install this build and link a consumer program against it
#              with its own (unsanitized) flags; the install tests run in the
#              normal build.
# The CUDA backend is not built here (no GPU on CI; its host-side code is
# tested in the normal build). MPI is: the distributed tests run their
# mpirun jobs with every rank sanitized (the ranks inherit ASAN_OPTIONS).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: scripts/sanitizers.sh asan|tsan}
JOBS=$(nproc)
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout, so another clone reuses the cache.
  export CCACHE_BASEDIR=$PWD
fi

# Sanitizer runtime options. suppressions: scripts/sanitizers.supp names
# each one's library and reason.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# allocator_may_return_null: an impossible allocation (the out-of-memory rows
# of docs/RELIABILITY.md) must reach Loom's own error, as without ASan.
# detect_leaks: LeakSanitizer needs ptrace, which containers often forbid;
# the fuzz build (scripts/fuzz.sh) checks for leaks instead.
export ASAN_OPTIONS="abort_on_error=0:halt_on_error=1:allocator_may_return_null=1:detect_leaks=0:detect_stack_use_after_return=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/sanitizers.supp"

case "$MODE" in
  asan)
    BUILD_DIR=${BUILD_DIR:-build-asan}
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_SANITIZE=address,undefined \
      -DLOOM_WITH_ONEDNN=ON -DLOOM_WITH_CUDA=OFF -DLOOM_WITH_HDF5=ON -DLOOM_WITH_MPI=ON "${launcher[@]}"
    cmake --build "$BUILD_DIR" -j"$JOBS"
    cd "$BUILD_DIR"
    # keras_roundtrip: Keras in Python checks the files Loom writes; the
    # writing itself runs under ASan in loom_keras_tests.
    ctest --output-on-failure -j"$JOBS" --timeout 1200 -E '^(qemu_|install_|keras_roundtrip$)'
    ;;
  tsan)
    BUILD_DIR=${BUILD_DIR:-build-tsan}
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_SANITIZE=thread \
      -DLOOM_WITH_ONEDNN=ON -DLOOM_WITH_CUDA=OFF "${launcher[@]}"
    cmake --build "$BUILD_DIR" -j"$JOBS" --target loom_thread_tests
    cd "$BUILD_DIR"
    ctest --output-on-failure -j1 --timeout 1200 -L threads
    ;;
  *)
    echo "scripts/sanitizers.sh: unknown mode '$MODE' (asan or tsan)" >&2
    exit 2
    ;;
esac
