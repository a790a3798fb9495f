#!/usr/bin/env bash
# Create the reference-framework virtualenvs used by the parity case
# generators. They live outside the repository so nothing large is committed.
#
#   venv-keras: tensorflow-cpu 2.21.0, tf-keras 2.21.0, keras 3.15.1, numpy,
#               h5py (gen_keras.py); defined by tests/layers/keras/gen/make_venv.sh
#   venv-torch: torch numpy                     (gen_torch.py, bench/pytorch_peer.py)
#
# Usage: make_venv.sh [keras|torch|all]   (default all). Idempotent: an existing
# venv whose packages import is left as it is.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${LOOM_CACHE:-$HOME/.cache/loom}"
PY="${PYTHON:-python3}"
what="${1:-all}"

mkdir -p "$CACHE"

# venv_ok DIR MODULE...: true when DIR's python imports every MODULE.
venv_ok() {
  local dir="$1"; shift
  [ -x "$dir/bin/python" ] || return 1
  local m
  for m in "$@"; do
    "$dir/bin/python" -c "import $m" >/dev/null 2>&1 || return 1
  done
}

make_keras() {
  # One definition of the Keras venv (directory, pinned versions) lives in
  # tests/layers/keras/gen/make_venv.sh; it prints the venv's python last.
  local py
  py="$(bash "$HERE/../../layers/keras/gen/make_venv.sh" | tail -n 1)"
  echo "venv-keras: ready (${py%/bin/python})"
}

make_torch() {
  local dir="$CACHE/venv-torch"
  if venv_ok "$dir" torch numpy; then
    echo "venv-torch: ok ($dir)"; return
  fi
  "$PY" -m venv "$dir"
  "$dir/bin/pip" install -q --upgrade pip
  # The CPU-only wheel index avoids ~2 GB of CUDA libraries; where that index
  # cannot be reached, fall back to PyPI's default (CUDA-enabled) wheel.
  if ! timeout 900 "$dir/bin/pip" install -q --timeout 20 --retries 1 \
        --index-url https://download.pytorch.org/whl/cpu torch; then
    echo "venv-torch: CPU wheel index unavailable, using PyPI" >&2
    "$dir/bin/pip" install -q torch
  fi
  "$dir/bin/pip" install -q numpy
  venv_ok "$dir" torch numpy
  echo "venv-torch: created ($dir)"
}

case "$what" in
  keras) make_keras ;;
  torch) make_torch ;;
  all) make_keras; make_torch ;;
  *) echo "usage: $0 [keras|torch|all]" >&2; exit 2 ;;
esac
