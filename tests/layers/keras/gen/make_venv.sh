#!/usr/bin/env bash
# Create (or reuse) the Keras reference virtualenv used by the Keras-format
# fixture generator (tests/layers/keras/gen/), the parity-case generator
# (tests/parity/gen/gen_keras.py) and examples/sentiment/keras/. It lives
# outside the repository, at ${LOOM_CACHE:-$HOME/.cache/loom}/venv-keras.
#
# This file is the one definition of that venv (directory and pinned
# versions); tests/parity/gen/make_venv.sh calls it.
#
#   tensorflow-cpu 2.21.0, tf-keras 2.21.0 (Keras 2, .h5), keras 3.15.1
#   (Keras 3, .keras), numpy, h5py
#
# Usage: make_venv.sh   Idempotent: an existing venv whose pinned packages
# import at exactly these versions is reused; otherwise the pinned versions
# are installed into it, or it is (re)created. Progress goes to stderr; the
# last line on stdout is the venv's python. Exits non-zero, saying why, when
# the venv cannot be made to match.
set -euo pipefail

CACHE="${LOOM_CACHE:-$HOME/.cache/loom}"
PY="${PYTHON:-python3}"
DIR="$CACHE/venv-keras"

TF_VERSION=2.21.0
TF_KERAS_VERSION=2.21.0
KERAS_VERSION=3.15.1
PACKAGES=("tensorflow-cpu==$TF_VERSION" "tf-keras==$TF_KERAS_VERSION"
          "keras==$KERAS_VERSION" numpy h5py)

die() { echo "make_venv.sh (keras): error: $*" >&2; exit 1; }

# venv_ok: true when $DIR's python imports every package at the pinned version.
venv_ok() {
  [ -x "$DIR/bin/python" ] || return 1
  TF_CPP_MIN_LOG_LEVEL=3 CUDA_VISIBLE_DEVICES="" "$DIR/bin/python" - \
      "$TF_VERSION" "$TF_KERAS_VERSION" "$KERAS_VERSION" >/dev/null 2>&1 <<'PYEOF'
import sys
import numpy, h5py, tensorflow, tf_keras, keras
want = dict(tensorflow=sys.argv[1], tf_keras=sys.argv[2], keras=sys.argv[3])
have = dict(tensorflow=tensorflow.__version__, tf_keras=tf_keras.__version__,
            keras=keras.__version__)
sys.exit(0 if want == have else 1)
PYEOF
}

# describe: one line with what the venv's python currently imports.
describe() {
  TF_CPP_MIN_LOG_LEVEL=3 CUDA_VISIBLE_DEVICES="" "$DIR/bin/python" -c '
import importlib
out = []
for m in ("tensorflow", "tf_keras", "keras", "numpy", "h5py"):
    try:
        out.append("%s %s" % (m, importlib.import_module(m).__version__))
    except Exception as e:
        out.append("%s: %s" % (m, type(e).__name__))
print(", ".join(out))' 2>/dev/null || echo "python does not run"
}

pip_install() {
  "$DIR/bin/python" -m pip install -q --disable-pip-version-check "${PACKAGES[@]}" >&2
}

mkdir -p "$CACHE" || die "cannot create $CACHE"

if venv_ok; then
  echo "venv-keras: ok ($DIR)" >&2
else
  if [ -x "$DIR/bin/python" ] && "$DIR/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "venv-keras: $DIR does not match the pins ($(describe)); installing pinned versions" >&2
    if ! pip_install; then
      echo "venv-keras: installing into the existing venv failed; recreating it" >&2
      rm -rf "$DIR"
    fi
  elif [ -e "$DIR" ]; then
    echo "venv-keras: $DIR is not a usable venv; recreating it" >&2
    rm -rf "$DIR"
  fi
  if [ ! -x "$DIR/bin/python" ]; then
    command -v "$PY" >/dev/null 2>&1 || die "no '$PY' to create the venv with (set PYTHON)"
    "$PY" -m venv "$DIR" >&2 || die "'$PY -m venv $DIR' failed (is the venv module installed?)"
    "$DIR/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2 ||
      echo "venv-keras: could not upgrade pip; continuing with the bundled one" >&2
    pip_install || die "pip could not install ${PACKAGES[*]} into $DIR"
  fi
  venv_ok || die "$DIR still does not match the pins after installing ($(describe));" \
                 "wanted tensorflow $TF_VERSION, tf_keras $TF_KERAS_VERSION, keras $KERAS_VERSION"
  echo "venv-keras: ready ($DIR)" >&2
fi

echo "$DIR/bin/python"
