#!/usr/bin/env bash
# Loom against PyTorch on one recurrent training-step configuration.
#
#   bench/compare.sh --config imdb-lstm [--backend NAME] [--dropout R]
#                    [--recurrent-dropout R] [--reps N] [--steps N] [--warmup N]
#                    [--sparse-embedding] [--precision f32|bf16|f16]
#                    [--build-dir DIR] [--loom-bin PATH]
#
# --precision bf16 runs Loom under the mixed_bfloat16 policy and the peer
# under torch.autocast(dtype=torch.bfloat16); f16 is mixed_float16 against
# autocast float16 with a GradScaler.
#
# --backend cuda runs Loom on cuda:0 and the peer with --device cuda (cuDNN;
# with --recurrent-dropout, PyTorch's LSTMCell loop). --loom-bin uses an
# already built loom_bench_rnn (a GPU machine without a compiler), and
# LOOM_PEER_PYTHON a Python that already has torch instead of the venv.
#
# Builds loom_bench_rnn (Release, in build/ unless --build-dir or
# LOOM_BUILD_DIR says otherwise), makes sure the PyTorch venv exists
# (bench/setup_peer.sh), then runs, alternating so that both see the same
# machine load, N repetitions (default 3) of
#     loom threads=1, pytorch threads=1, loom threads=2, pytorch threads=2
# each a separate process timing --steps steps after --warmup. Every run's
# median ms/step is printed; each side's figure is its best median over
# threads and repetitions. The last line is
#     ratio_vs_pytorch=X.XX loom_ms=A pytorch_ms=B
# with ratio = pytorch_ms / loom_ms (above 1: Loom is faster).
#
# The model flags come from `loom_bench_rnn --config NAME --print-config`,
# so both sides run exactly the same shapes. The peer gets
# OPENBLAS_NUM_THREADS and OMP_NUM_THREADS equal to its thread count
# (OpenBLAS otherwise starts threads of its own, see bench/README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

config="" backend="" dropout="" rdropout="" reps=3 steps=30 warmup=5 sparse=0 loom_bin=""
precision=f32
build="${LOOM_BUILD_DIR:-$root/build}"
die() { echo "compare.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) config="${2:?--config needs a value}"; shift 2 ;;
    --backend) backend="${2:?--backend needs a value}"; shift 2 ;;
    --dropout) dropout="${2:?--dropout needs a value}"; shift 2 ;;
    --recurrent-dropout) rdropout="${2:?--recurrent-dropout needs a value}"; shift 2 ;;
    --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
    --steps) steps="${2:?--steps needs a value}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --build-dir) build="${2:?--build-dir needs a value}"; shift 2 ;;
    --loom-bin) loom_bin="${2:?--loom-bin needs a value}"; shift 2 ;;
    --sparse-embedding) sparse=1; shift ;;
    --precision) precision="${2:?--precision needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n "$config" ]] || die "--config NAME is required (imdb-lstm, imdb-bilstm, gru, large-lstm)"
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer, got '$reps'"
case "$precision" in
  f32) loom_policy=float32 ;;
  bf16) loom_policy=mixed_bfloat16 ;;
  f16) loom_policy=mixed_float16 ;;
  *) die "--precision must be f32, bf16 or f16, got '$precision'" ;;
esac

# ---- build ------------------------------------------------------------------------------------
if [[ -n "$loom_bin" ]]; then
  [[ -x "$loom_bin" ]] || die "--loom-bin $loom_bin is not an executable"
else
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
fi
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")"
[[ "$build_type" == "Release" ]] ||
  die "$build is configured as '$build_type'; timings need Release (use --build-dir for another directory)"
cmake --build "$build" --target loom_bench_rnn -j"${LOOM_BUILD_JOBS:-2}" >&2
loom_bin="$build/loom_bench_rnn"
[[ -x "$loom_bin" ]] || die "the build did not produce $loom_bin"
fi

# ---- the peer ---------------------------------------------------------------------------------
if [[ -n "${LOOM_PEER_PYTHON:-}" ]]; then
  python="$LOOM_PEER_PYTHON"
else
  python="$(bash "$here/setup_peer.sh")"
fi
peer_extra=(--precision "$precision")
[[ "$backend" == "cuda" ]] && peer_extra+=(--device cuda)

# ---- the model, identical on both sides -------------------------------------------------------
extra=()
[[ -n "$dropout" ]] && extra+=(--dropout "$dropout")
[[ -n "$rdropout" ]] && extra+=(--recurrent-dropout "$rdropout")
read -r -a model <<<"$("$loom_bin" --config "$config" "${extra[@]}" --print-config)"
loom_extra=(--precision "$loom_policy")
[[ -n "$backend" ]] && loom_extra+=(--backend "$backend")
# Both sides: a sparse embedding updated lazily (only the batch's rows).
if (( sparse )); then model+=(--sparse-embedding); fi

echo "config=$config precision=$precision model: ${model[*]}"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "torch: $("$python" -c 'import torch; print(torch.__version__)')"
if [[ "$backend" == "cuda" ]]; then
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
fi

median_of() { sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p'; }
best_loom="" best_torch=""
better() { # prints the smaller of two numbers, the first when the second is empty
  if [[ -z "$2" ]]; then echo "$1"; else awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; fi
}

for ((rep = 1; rep <= reps; ++rep)); do
  for threads in 1 2; do
    line="$("$loom_bin" "${model[@]}" "${loom_extra[@]}" --threads "$threads" \
             --warmup "$warmup" --steps "$steps")"
    echo "rep=$rep $line"
    ms="$(median_of <<<"$line")"
    [[ -n "$ms" ]] || die "no median_ms in Loom's output: $line"
    best_loom="$(better "$ms" "$best_loom")"

    line="$(OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
             "$python" "$here/pytorch_peer.py" "${model[@]}" "${peer_extra[@]}" --threads "$threads" \
             --warmup "$warmup" --steps "$steps")"
    echo "rep=$rep $line"
    ms="$(median_of <<<"$line")"
    [[ -n "$ms" ]] || die "no median_ms in the peer's output: $line"
    best_torch="$(better "$ms" "$best_torch")"
  done
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v l="$best_loom" -v p="$best_torch" \
  'BEGIN { printf "ratio_vs_pytorch=%.2f loom_ms=%s pytorch_ms=%s\n", p / l, l, p }'
