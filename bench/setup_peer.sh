#!/usr/bin/env bash
# Create (or reuse) the PyTorch venv for bench/pytorch_peer.py and print the
# path of its python on stdout. The venv is shared with the parity-case
# generator (tests/parity/gen/make_venv.sh) and lives outside the repository,
# at ${LOOM_CACHE:-$HOME/.cache/loom}/venv-torch. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/../tests/parity/gen/make_venv.sh" torch >&2
venv="${LOOM_CACHE:-$HOME/.cache/loom}/venv-torch"
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__)' >&2
echo "$venv/bin/python"
