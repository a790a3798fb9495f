#!/usr/bin/env bash
# Checks that every Debian package a configured and built Loom tree used is
# installed by scripts/deps.sh or is part of a bare Debian 12 system, so a
# fresh machine gets it from the project's own scripts. Run by ctest
# (test `packages_installed_by_scripts`) on the build it belongs to.
#
#   bash scripts/check_packages.sh BUILD_DIR
#
# What the build used: every header the compiler read (the .d dependency
# files), every library on a link line, every file or directory CMake found
# (CMakeCache.txt: PATH/FILEPATH entries and <package>_DIR folders, e.g.
# OpenCL's, found for oneDNN's CMake package), the tools (cmake, the
# compiler, make, ld/objcopy/nm, qemu-x86_64). Each file's package comes from
# dpkg -S. A package passes if deps.sh lists it, if it is in the Depends or
# Pre-Depends closure of those (what apt-get --no-install-recommends
# brings), or if it is part of the base system (Priority required or
# important, and their Depends). Anything else is reported: a machine that
# had it installed by hand would hide a missing install step. Files outside
# dpkg (the CUDA toolkit at /usr/local/cuda) are listed, not judged.
set -euo pipefail
build=$(cd "${1:?usage: check_packages.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/scripts/deps.sh"

# ---- the files the build used -----------------------------------------------------------
files=$(mktemp)
trap 'rm -f "$files" "$files".*' EXIT
find "$build" -name '*.d' -path '*CMakeFiles*' -print0 |
  xargs -0 -r cat | tr ' \\' '\n\n' | grep '^/' >>"$files" || true
# Link lines: absolute library paths, and -lname resolved as the linker would.
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
find "$build" -name link.txt -path '*CMakeFiles*' -print0 | xargs -0 -r cat | tr ' ' '\n' |
  sort -u >"$files.link"
grep '^/' "$files.link" | grep -E '\.(so|a)(\.[0-9]+)*$' >>"$files" || true
for lib in $(sed -n 's/^-l//p' "$files.link"); do
  for ext in so a; do
    p=$("$compiler" -print-file-name="lib$lib.$ext")
    if [ "$p" != "lib$lib.$ext" ]; then echo "$p" >>"$files"; break; fi
  done
done
# What CMake found: files, and the CMake package files in <package>_DIR folders.
sed -n 's/^[A-Za-z0-9_]*:FILEPATH=\(\/.*\)$/\1/p' "$build/CMakeCache.txt" >>"$files"
sed -n 's/^[A-Za-z0-9_]*_DIR:PATH=\(\/.*\)$/\1/p' "$build/CMakeCache.txt" | while read -r dir; do
  [ -d "$dir" ] && find "$dir" -maxdepth 1 -name '*.cmake' >>"$files"
done
# Tools.
for tool in cmake make "$compiler" ld objcopy nm qemu-x86_64; do
  command -v "$tool" >>"$files" || true
done

# Each file, or the link it names, in dpkg's database (usrmerge: /lib == /usr/lib).
sort -u "$files" | grep -v -e "^$build" -e "^$src" | while read -r f; do
  [ -f "$f" ] || continue  # files only: a directory belongs to many packages
  for cand in "$f" "$(readlink -f "$f")"; do
    echo "$cand"
    case "$cand" in /usr/lib/*|/usr/bin/*|/usr/sbin/*) echo "${cand#/usr}" ;; esac
  done
done | sort -u >"$files.candidates"
# (dpkg -S fails for the paths it does not know: the other spelling, /usr/local.)
owners=$( { xargs -r -a "$files.candidates" dpkg -S 2>/dev/null || true; } | grep -v '^diversion' |
           sed 's/: .*//' | tr ',' '\n' | sed 's/^ *//; s/:.*//' | sort -u)
outside=$(grep -c '^/usr/local/' "$files.candidates" || true)

# ---- what a fresh machine has: deps.sh's packages and the base system, with Depends ------
closure() {
  # Depends and Pre-Depends only, recursively; virtual packages resolve to their providers.
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^ ' | sed 's/^<//; s/>$//; s/:.*//' |
    sort -u
}
# The same closure from dpkg's own records of the installed packages: what
# this machine's packages depend on, whatever apt's lists say (a CI run once
# flagged binutils-x86-64-linux-gnu, a Depends of binutils, when apt-cache's
# recursion left it out). Alternatives and virtual packages count through
# every installed provider.
installed_closure() {
  dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Provides}\t${Pre-Depends}, ${Depends}\n' |
    awk -F'\t' -v roots="$*" '
      function clean(s) { gsub(/\([^)]*\)/, "", s); gsub(/:[a-z0-9]+/, "", s); gsub(/[ \t]/, "", s); return s }
      $1 ~ /^ii/ {
        installed[$2] = 1; deps[$2] = $4
        n = split($3, pv, ","); for (i = 1; i <= n; i++) { v = clean(pv[i]); if (v != "") providers[v] = providers[v] " " $2 }
      }
      END {
        n = split(roots, queue, " "); head = 1
        for (i = 1; i <= n; i++) seen[queue[i]] = 1
        while (head <= n) {
          p = queue[head++]
          if (!(p in installed)) continue
          print p
          g = split(deps[p], groups, ",")
          for (i = 1; i <= g; i++) {
            a = split(groups[i], alts, "|")
            for (j = 1; j <= a; j++) {
              d = clean(alts[j]); if (d == "") continue
              cand = d; if (!(d in installed) && (d in providers)) cand = providers[d]
              m = split(cand, cs, " ")
              for (k = 1; k <= m; k++) if (cs[k] != "" && !(cs[k] in seen)) { seen[cs[k]] = 1; queue[++n] = cs[k] }
            }
          }
        }
      }' | sort -u
}
base=$(dpkg-query -W -f='${Package} ${Priority} ${Essential}\n' |
         awk '$2 == "required" || $2 == "important" || $3 == "yes" {print $1}')
allowed=$( { closure "${LOOM_DEBIAN_PACKAGES[@]}"; closure $base;
            installed_closure "${LOOM_DEBIAN_PACKAGES[@]}"; installed_closure $base; } | sort -u)

missing=0
echo "Debian packages this build used ($(echo "$owners" | wc -w)):"
for pkg in $owners; do
  # Here-strings, not pipes: under pipefail, `echo | grep -q` fails when
  # grep exits on its match before echo has written everything (SIGPIPE),
  # which flagged a random package now and then under load.
  if grep -qx "$pkg" <<<"$(printf '%s\n' "${LOOM_DEBIAN_PACKAGES[@]}")"; then
    why="scripts/deps.sh"
  elif grep -qx "$pkg" <<<"$base"; then
    why="base system"
  elif grep -qx "$pkg" <<<"$allowed"; then
    why="a Depends of the above"
  else
    why="NOT INSTALLED BY scripts/deps.sh"
    missing=1
  fi
  printf '  %-32s %s\n' "$pkg" "$why"
done
[ "$outside" -eq 0 ] || echo "files outside dpkg under /usr/local (the CUDA toolkit): $outside"
if [ "$missing" -ne 0 ]; then
  echo "check_packages: the packages marked above are used by the build but a fresh Debian 12" >&2
  echo "machine would not have them: add them to scripts/deps.sh." >&2
  exit 1
fi
echo "check_packages: every package is installed by scripts/deps.sh or part of Debian's base system"
