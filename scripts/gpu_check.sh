#!/usr/bin/env bash
# Checks the CUDA backend on a GPU machine, from a build made on a machine
# without one.
#
#   bash scripts/gpu_check.sh build [DIR]   # here (CPU-only): configure and build DIR
#                                           # (default build-gpu), binaries in DIR/bin
#   bash scripts/gpu_check.sh run [DIR] [--no-bench]
#                                           # on the GPU machine: tests, parity, benchmark
#
# build: CUDA on for sm_90 (H100, H200; CUDA_ARCHS=80;90 for A100 too),
# oneDNN off, fmt and GoogleTest linked statically, no -march=native (the
# GPU machine's CPU may differ), libstdc++ static, libloom shared (the CUDA
# kernels once, not in every program); the test, parity and benchmark
# programs and libloom.so are stripped into DIR/bin (found there through
# RPATH $ORIGIN), so that folder alone (about 15 MiB) is what the GPU
# machine needs, with the repository's tests/parity/cases and bench/ scripts.
#
# run: finds cuBLAS and cuDNN where that machine has them (the nvidia-*
# wheels and torch/lib of its PyTorch install, else /usr/local/cuda), then
#   1. the CUDA backend's host-side and device test suites,
#   2. every parity fixture on cuda:0 in f32 and f64 (loom_parity --backend cuda),
#      and under mixed_bfloat16 and mixed_float16 (tensor-core GEMMs),
#   3. bench/compare.sh --backend cuda for imdb-lstm, imdb-bilstm, gru,
#      large-lstm, and imdb-lstm with --recurrent-dropout 0.2, against
#      PyTorch on the same GPU, then the four configs with --precision bf16
#      and f16 against PyTorch's autocast (skipped with --no-bench).
# Logs go to $OUT (the device tool's output folder) or ./gpu-check-out.
# Exit status: non-zero when a test or parity run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
mode="${1:-}"
dir="${2:-build-gpu}"
[[ "$dir" == --* ]] && dir=build-gpu

case "$mode" in
build)
  set -e
  source scripts/deps.sh
  loom_install_deps
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DLOOM_WITH_CUDA=ON -DLOOM_WITH_ONEDNN=OFF \
    -DLOOM_STATIC_DEPS=ON -DLOOM_NATIVE=OFF -DLOOM_BUILD_SHARED=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" -DCMAKE_BUILD_RPATH='$ORIGIN' \
    -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc" \
    -DCMAKE_SHARED_LINKER_FLAGS="-static-libstdc++ -static-libgcc" ${CMAKE_ARGS:-}
  cmake --build "$dir" -j"$(nproc)" \
    --target loom_cuda_tests loom_cudnn_plan_tests loom_parity loom_bench_rnn
  mkdir -p "$dir/bin"
  for b in libloom.so loom_cuda_tests loom_cudnn_plan_tests tests/loom_parity loom_bench_rnn; do
    strip --strip-unneeded -o "$dir/bin/$(basename "$b")" "$dir/$b"
  done
  du -sh "$dir/bin"
  ;;
run)
  bin="$root/$dir/bin"
  [[ -x "$bin/loom_cuda_tests" ]] || { echo "gpu_check.sh: no $bin (run 'gpu_check.sh build' first)" >&2; exit 2; }
  out="${OUT:-$root/gpu-check-out}"
  mkdir -p "$out"
  bench=1
  for a in "$@"; do [[ "$a" == --no-bench ]] && bench=0; done

  # cuBLAS and cuDNN: PyTorch's wheels carry them (nvidia/*/lib, torch/lib).
  python="${LOOM_PEER_PYTHON:-python3}"
  libs="$("$python" - <<'EOF' 2>/dev/null
import glob, os
dirs = []
try:
    import torch
    dirs.append(os.path.join(os.path.dirname(torch.__file__), "lib"))
    import site
    for sp in site.getsitepackages() + [site.getusersitepackages()]:
        dirs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib")))
except Exception:
    pass
print(":".join(d for d in dirs if os.path.isdir(d)))
EOF
)"
  export LD_LIBRARY_PATH="${libs:+$libs:}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
  } | tee "$out/machine.txt"
  if ldd "$bin/loom_cuda_tests" | grep "not found"; then
    echo "gpu_check.sh: shared libraries missing (above); set LD_LIBRARY_PATH" >&2
    exit 2
  fi

  status=0
  "$bin/loom_cudnn_plan_tests" --gtest_brief=1 2>&1 | tee "$out/cudnn_plan_tests.txt"
  (( PIPESTATUS[0] == 0 )) || status=1
  "$bin/loom_cuda_tests" --gtest_output="xml:$out/cuda_tests.xml" 2>&1 | tee "$out/cuda_tests.txt"
  (( PIPESTATUS[0] == 0 )) || status=1
  for dtype in f32 f64; do
    "$bin/loom_parity" --backend cuda --dtype "$dtype" --quiet tests/parity/cases 2>&1 |
      tee "$out/parity_cuda_$dtype.txt" | tail -5
    rc=${PIPESTATUS[0]}
    if (( rc == 77 )); then
      echo "gpu_check.sh: no CUDA device is visible on this machine; nothing was checked" >&2
      exit 3
    fi
    (( rc == 0 )) || status=1
  done
  for policy in mixed_bfloat16 mixed_float16; do
    "$bin/loom_parity" --backend cuda --precision "$policy" --quiet tests/parity/cases 2>&1 |
      tee "$out/parity_cuda_$policy.txt" | tail -3
    (( PIPESTATUS[0] == 0 )) || status=1
  done

  if (( bench )); then
    export LOOM_PEER_PYTHON="$python"
    for cfg in imdb-lstm imdb-bilstm gru large-lstm; do
      bash bench/compare.sh --config "$cfg" --backend cuda --loom-bin "$bin/loom_bench_rnn" \
        --reps 3 2>&1 | tee "$out/bench_$cfg.txt" | tail -1
    done
    bash bench/compare.sh --config imdb-lstm --recurrent-dropout 0.2 --backend cuda \
      --loom-bin "$bin/loom_bench_rnn" --reps 3 2>&1 | tee "$out/bench_imdb-lstm_rd.txt" | tail -1
    for precision in bf16 f16; do
      for cfg in imdb-lstm imdb-bilstm gru large-lstm; do
        bash bench/compare.sh --config "$cfg" --backend cuda --precision "$precision" \
          --loom-bin "$bin/loom_bench_rnn" --reps 2 2>&1 |
          tee "$out/bench_${cfg}_$precision.txt" | tail -1
      done
    done
  fi
  echo "gpu_check.sh: $([[ $status == 0 ]] && echo passed || echo FAILED); logs in $out"
  exit $status
  ;;
*)
  sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
