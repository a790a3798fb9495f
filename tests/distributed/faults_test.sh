#!/usr/bin/env bash
# Faults in a data-parallel job (tests/distributed/fault_job.cpp), run by
# ctest as distributed_faults:
#  1. a rank that throws stops the whole 2-rank job within seconds, with a
#     message naming the rank and the error; the backup rank 0 wrote is
#     intact, and resuming from it with 1 process ends with the weights of
#     an uninterrupted run;
#  2. a rank killed by SIGKILL stops the job within seconds, the launcher
#     naming the rank; resuming with 2 processes ends as above;
#  3. ranks that build different models fail at the start of fit() with an
#     error naming the rank and the differing parameter.
#   bash tests/distributed/faults_test.sh FAULT_JOB    (LOOM_BACKEND picks the CPU backend)
set -uo pipefail
# The output is searched with here-strings, not `echo | grep -q`: under
# pipefail that pipeline fails when grep exits on its match before echo has
# written everything (SIGPIPE).
job=${1:?usage: faults_test.sh FAULT_JOB}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run NP ARGS...: sets $out, $rc and $seconds.
run() {
  local np=$1 start
  shift
  start=$(date +%s%N)
  out=$(LOOM_MPI_TIMEOUT=120 bash "$here/mpirun.sh" "$np" "$job" "$@" 2>&1)
  rc=$?
  seconds=$((($(date +%s%N) - start) / 1000000000))
  echo "---- mpirun -np $np fault_job $* -> exit $rc after ${seconds}s"
  echo "$out" | grep -v '^\s*$' | tail -25
}
expect_quick_failure() {  # WHAT
  [ "$rc" -ne 0 ] || fail "$1: the job exited 0"
  [ "$seconds" -lt 30 ] || fail "$1: the job took ${seconds}s to stop"
}
expect_resume() {  # NP
  run "$1" resume "$dir/run.backup"
  [ "$rc" -eq 0 ] || fail "resume with $1 process(es) exited $rc"
  grep -q "(backend ${LOOM_BACKEND:-[a-z]*}): resumed run vs uninterrupted run" <<<"$out" ||
    fail "resume with $1: no comparison printed (on backend ${LOOM_BACKEND:-the default})"
}

# 1. A rank raises.
run 2 raise "$dir/run.backup"
expect_quick_failure "a rank that throws"
grep -q "loom: rank 1 of 2 failed: injected failure on purpose" <<<"$out" ||
  fail "a rank that throws: no message naming rank 1 and the error"
[ -s "$dir/run.backup" ] || fail "a rank that throws: no backup left"
expect_resume 1

# 2. A rank dies.
rm -f "$dir"/run.backup*
run 2 kill "$dir/run.backup"
expect_quick_failure "a killed rank"
grep -Eq "rank 1 .*(signal 9|Killed)" <<<"$out" || fail "a killed rank: the launcher did not name rank 1"
[ -s "$dir/run.backup" ] || fail "a killed rank: no backup left"
expect_resume 2

# 3. Different models.
run 2 mismatch
[ "$rc" -ne 0 ] || fail "different models: the job exited 0"
grep -q "rank 1's model 'bilstm' differs from rank 0's: 'lstm/kernel (6, 20) f32'" <<<"$out" ||
  fail "different models: no error naming rank 1 and the parameter"

[ "$failures" -eq 0 ] && echo "faults_test: all cases passed"
exit $((failures > 0))
