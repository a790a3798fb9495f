#!/usr/bin/env bash
# The CPU-kernel variants are sealed (cmake/seal_kernels.cmake): each
# variant's object defines, under a common name, only its own
# loom::ref::isa_<variant>::kernel_table(); every other symbol it defines
# carries its variant's suffix, so no name is defined by two variants or by
# a variant and the rest of libloom (where the linker would keep one copy,
# compiled for one CPU, for all of them).
#
#   cpu_kernel_symbols.sh NM LIBLOOM SEALED_OBJECT...
set -euo pipefail
nm=$1 lib=$2
shift 2
status=0
for obj in "$@"; do
  isa=$(basename "$obj" .o)
  isa=${isa#loom_kernels_}
  syms=$("$nm" --defined-only --extern-only --format=posix "$obj" | awk '{print $1}')
  common=$(grep -v "\.loom_isa_${isa}\$" <<<"$syms" || true)
  if [ "$common" != "_ZN4loom3ref$((${#isa} + 4))isa_${isa}12kernel_tableEv" ]; then
    echo "$obj: defines under common names: $common" >&2
    status=1
  fi
  suffixed=$(grep -c "\.loom_isa_${isa}\$" <<<"$syms" || true)
  echo "$isa: kernel_table + $suffixed symbols of its own"
  # ...and libloom carries this sealed object, not the variant's raw ones.
  if [[ "$lib" == *.a ]] && ! grep -qx "$(basename "$obj")" <<<"$(ar t "$lib")"; then
    echo "$lib does not contain $(basename "$obj")" >&2
    status=1
  fi
done
exit $status
