#!/usr/bin/env bash
# Installs oneDNN 3.x from PyPI into a virtualenv, for building Loom's oneDNN
# backend against it instead of Debian's 2.6. The package is
# onednn-devel-cpu-gomp (oneDNN 3.2: headers, CMake package, libdnnl.so.3
# built with GNU OpenMP, as Debian's is, so LOOM_NUM_THREADS drives it). The
# newer `onednn-devel` wheels (2024.x-2026.x) are SYCL builds threaded with
# TBB that need Intel's compiler runtime (2 GB); Loom's thread control and
# this machine's toolchain do not fit them.
#
#   prefix="$(bash bench/setup_onednn3.sh)"
#   cmake -S . -B build-dnnl3 -DCMAKE_BUILD_TYPE=Release -DLOOM_WITH_ONEDNN=ON \
#         -DDNNL_DIR="$prefix/lib/cmake/dnnl"
#
# Prints the install prefix on stdout (progress goes to stderr). Nothing
# here is a runtime dependency of Loom; the default build uses libdnnl-dev.
set -euo pipefail
version="${LOOM_ONEDNN3_VERSION:-2023.2.0}"
venv="${LOOM_ONEDNN3_VENV:-$HOME/.cache/loom/venv-onednn3}"
if [[ ! -f "$venv/lib/cmake/dnnl/dnnl-config.cmake" ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "onednn-devel-cpu-gomp==$version" >&2
fi
[[ -f "$venv/lib/cmake/dnnl/dnnl-config.cmake" ]] || {
  echo "setup_onednn3.sh: onednn-devel installed no lib/cmake/dnnl under $venv" >&2
  find "$venv" -name 'dnnl-config.cmake' >&2 || true
  exit 1
}
echo "$venv"
