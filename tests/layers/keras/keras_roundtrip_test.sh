#!/usr/bin/env bash
# Loom writes every Keras fixture model back (.keras for Keras 3, .h5 for
# tf-keras), then Keras itself loads each file and must predict what it
# predicted for the original (gen/check_keras_loads.py). The Keras
# virtualenv is made or reused by gen/make_venv.sh (cached under
# ~/.cache/loom); when it cannot be made this test fails, it does not skip.
#
#   keras_roundtrip_test.sh LOOM_KERAS_TESTS_BINARY
set -euo pipefail
tests_binary="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

python="$(bash "$here/gen/make_venv.sh" | tail -n 1)"
LOOM_KERAS_EXPORT_DIR="$out" "$tests_binary" --gtest_brief=1 \
  --gtest_filter='Fixtures/KerasFixture.WrittenBackLoadsWithTheSamePredictions/*'
"$python" "$here/gen/check_keras_loads.py" "$here/fixtures" "$out"
