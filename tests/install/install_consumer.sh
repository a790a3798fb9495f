#!/usr/bin/env bash
# Installs a Loom build into a temporary prefix, then configures, builds and
# runs tests/install/consumer (find_package(Loom CONFIG REQUIRED), Loom::loom)
# against it: what a user outside Loom's tree does.
#
#   install_consumer.sh BUILD_DIR            # install an existing build
#   install_consumer.sh --configure SRC WORK [cmake args...]
#                                            # first build Loom from SRC in WORK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--configure" ]; then
  src=$2 work=$3
  shift 3
  rm -rf "$work"
  cmake -S "$src" -B "$work/loom-build" -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_TESTS=OFF "$@" >/dev/null
  cmake --build "$work/loom-build" -j"$(nproc)" --target loom xor mlp_classifier train_sentiment predict_sentiment >/dev/null
  build=$work/loom-build
else
  build=$1
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/loom/loom.h"
test -f "$prefix/include/loom/version.h"
test -f "$prefix/lib/cmake/Loom/LoomConfig.cmake"
test -f "$prefix/lib/cmake/Loom/LoomConfigVersion.cmake"
test -x "$prefix/bin/train_sentiment"
"$prefix/bin/xor" --version
cmake -S "$here/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer-build" >/dev/null
"$work/consumer-build/consumer"
