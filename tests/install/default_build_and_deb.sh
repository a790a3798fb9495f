#!/usr/bin/env bash
# Builds Loom with the default options (no oneDNN, no CUDA) from SRC in WORK,
# installs it into a prefix and builds the consumer project against it
# (install_consumer.sh), then makes the Debian package with cpack -G DEB,
# checks its control fields and files, installs it and builds the consumer
# against /usr. As root the .deb is installed with apt-get (which also
# fetches its Depends) and purged afterwards; otherwise its files are
# unpacked with dpkg-deb -x and the consumer uses that tree.
#
#   default_build_and_deb.sh SRC WORK
set -euo pipefail
src=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/install_consumer.sh" --configure "$src" "$work"
build=$work/loom-build

(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/loom-dev_*.deb)
echo "built $(basename "$deb")"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for pkg in libfmt-dev libgomp1; do
  grep -qw "$pkg" <<<"$depends" || { echo "the .deb does not depend on $pkg" >&2; exit 1; }
done
contents=$(dpkg-deb -c "$deb")
for f in ./usr/include/loom/loom.h ./usr/include/loom/version.h ./usr/lib/libloom.a \
         ./usr/lib/cmake/Loom/LoomConfig.cmake ./usr/lib/cmake/Loom/LoomTargets.cmake \
         ./usr/lib/pkgconfig/loom.pc ./usr/bin/train_sentiment; do
  grep -q " $f\$" <<<"$contents" || { echo "the .deb lacks $f" >&2; exit 1; }
done

if [ "$(id -u)" -eq 0 ]; then
  if dpkg-query -W -f='${Status}' loom-dev 2>/dev/null | grep -q "install ok installed"; then
    echo "loom-dev is already installed on this machine; not replacing it" >&2
    exit 1
  fi
  trap 'DEBIAN_FRONTEND=noninteractive apt-get purge -y loom-dev >/dev/null 2>&1 || true' EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >/dev/null
  echo "installed with apt-get; building the consumer against /usr"
  prefix_args=()
  train_sentiment=/usr/bin/train_sentiment
else
  dpkg-deb -x "$deb" "$work/deb-root"
  echo "not root: unpacked the .deb with dpkg-deb -x; building the consumer against it"
  prefix_args=(-DCMAKE_PREFIX_PATH="$work/deb-root/usr")
  train_sentiment=$work/deb-root/usr/bin/train_sentiment
fi
"$train_sentiment" --version
cmake -S "$here/consumer" -B "$work/deb-consumer" "${prefix_args[@]}" >/dev/null
cmake --build "$work/deb-consumer" >/dev/null
"$work/deb-consumer/consumer"
