#!/usr/bin/env bash
# Checks that loom_parity catches what it must: runs it over
# tests/parity/selftest (exact, half-tolerance, perturbed and broken copies
# of real cases, written by selftest/make_selftest.py) and compares every
# line with selftest/expected.tsv. Exit 0 when loom_parity exited 1 (some
# cases fail), printed the expected verdict and error for every case, and
# did not crash.
#   runner_selftest.sh LOOM_PARITY [--dtype f32|f64 ...]
set -uo pipefail
bin="${1:?usage: runner_selftest.sh LOOM_PARITY [loom_parity options]}"
shift
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/selftest"

out="$("$bin" "$@" "$dir")"
rc=$?
echo "$out"
status=0
if [[ $rc -ne 1 ]]; then
  echo "selftest: loom_parity exited $rc, expected 1" >&2
  status=1
fi
total=0 npass=0
while IFS=$'\t' read -r stem verdict substring; do
  [[ -z "$stem" || "$stem" == \#* ]] && continue
  total=$((total + 1))
  [[ "$verdict" == PASS ]] && npass=$((npass + 1))
  # A case that ran is named by its "name"; a broken file by its path.
  line="$(grep -E "^$verdict (selftest_$stem |$dir/$stem\.json[: ])" <<<"$out")"
  if [[ -z "$line" ]]; then
    echo "selftest: no '$verdict' line for $stem" >&2
    status=1
  elif ! grep -qF -- "$substring" <<<"$line"; then
    echo "selftest: the line for $stem lacks '$substring': $line" >&2
    status=1
  fi
done <"$dir/expected.tsv"
summary="$npass passed, $((total - npass)) failed of $total"
if ! grep -qF "loom_parity: $summary " <<<"$out"; then
  echo "selftest: expected the summary '$summary'" >&2
  status=1
fi
[[ $status -eq 0 ]] && echo "selftest: all $total cases reported as expected"
exit $status
