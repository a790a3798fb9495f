#!/usr/bin/env bash
# Builds Loom's libFuzzer targets (tests/fuzz/, cmake/LoomFuzz.cmake) and runs
# each: first its whole seed corpus (tests/fuzz/corpus/<name>/: every file,
# the regression-* inputs of fixed findings included, must pass), then a
# short fuzzing session with its dictionary. New inputs and crash artifacts
# go under BUILD_DIR/fuzz-work/, never into the repository's corpus.
#
#   bash scripts/fuzz.sh [BUILD_DIR] [SECONDS_PER_TARGET]     (defaults: build-fuzz 30)
#
# LOOM_FUZZ_TARGETS="json table" runs only those; LOOM_FUZZ_JOBS sets the
# build's parallelism (default 2). Exits 1 on any finding (crash, sanitizer
# report, leak, timeout, out-of-memory, non-Loom exception) after printing
# the input that caused it; 2 when the build fails.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build-fuzz}
[[ $build = /* ]] || build=$root/$build
seconds=${2:-30}
jobs=${LOOM_FUZZ_JOBS:-2}
targets=(${LOOM_FUZZ_TARGETS:-table imdb text checkpoint json parity predict_cli keras_config})
# The limits libFuzzer enforces on every input (a slower or bigger input is a finding).
limits=(-timeout=10 -rss_limit_mb=2048)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LOOM_NUM_THREADS=1

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: needs clang with libFuzzer: apt-get install clang libclang-rt-14-dev libomp-dev" >&2
  exit 2
fi
start=$SECONDS
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$root  # paths relative to the checkout: another clone reuses the cache
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_FUZZ=ON \
  -DLOOM_BUILD_TESTS=OFF -DLOOM_WITH_ONEDNN=OFF -DLOOM_WITH_CUDA=OFF -DCMAKE_LINKER="$(command -v ld)" \
  "${launcher[@]}" >/dev/null ||
  { echo "fuzz.sh: configuring $build failed" >&2; exit 2; }
cmake --build "$build" -j"$jobs" --target loom_fuzz >"$build/fuzz-build.log" 2>&1 ||
  { tail -40 "$build/fuzz-build.log"; echo "fuzz.sh: build failed ($build/fuzz-build.log)" >&2; exit 2; }
echo "fuzz.sh: built in $((SECONDS - start)) s"

work=$build/fuzz-work
findings=0
summary=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  corpus=$root/tests/fuzz/corpus/$t
  dict=()
  [[ -f $root/tests/fuzz/$t.dict ]] && dict=(-dict="$root/tests/fuzz/$t.dict")
  rm -rf "$work/$t"
  mkdir -p "$work/$t/new" "$work/$t/artifacts"
  log=$work/$t/replay.log
  # 1. Replay: each corpus file once, by name, so a failure names the file.
  t0=$SECONDS
  if ! "$bin" "${limits[@]}" "$corpus"/* >"$log" 2>&1; then
    bad=$(grep '^Running: ' "$log" | tail -1 | cut -d' ' -f2-)
    tail -30 "$log"
    echo "FINDING fuzz_$t: corpus input $bad fails (log $log)"
    findings=$((findings + 1))
    continue
  fi
  replayed=$(ls "$corpus" | wc -l)
  # 2. Fuzz: new inputs go to new/ (first corpus directory), seeds are read only.
  # A fixed random seed (LOOM_FUZZ_SEED, default 1) makes a CI run repeatable.
  log=$work/$t/fuzz.log
  "$bin" "${limits[@]}" "${dict[@]}" -seed="${LOOM_FUZZ_SEED:-1}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$work/$t/artifacts/" "$work/$t/new" "$corpus" >"$log" 2>&1
  rc=$?
  final=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  [[ -n $final ]] || final=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
  summary+=("fuzz_$t: replayed $replayed, $(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$') runs in $((SECONDS - t0)) s; $(echo "$final" | grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*")")
  if [[ $rc -ne 0 ]]; then
    tail -40 "$log"
    artifact=$(grep -oE 'Test unit written to .*' "$log" | tail -1 | cut -d' ' -f5-)
    echo "FINDING fuzz_$t: exit $rc, input ${artifact:-(none written)} (log $log)"
    findings=$((findings + 1))
  fi
done

echo "fuzz.sh: summary (${seconds} s per target)"
printf '  %s\n' "${summary[@]}"
echo "fuzz.sh: ${#targets[@]} targets, $findings finding(s), $((SECONDS - start)) s in all"
[[ $findings -eq 0 ]]
