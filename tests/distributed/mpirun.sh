#!/usr/bin/env bash
# Runs a program as an MPI job on this machine, for the distributed tests:
#   bash tests/distributed/mpirun.sh NP PROGRAM [ARGS...]
# One thread per rank (LOOM_NUM_THREADS=1, passed to every rank); more
# ranks than cores allowed (--oversubscribe); as root, OpenMPI needs
# --allow-run-as-root. A job still running after LOOM_MPI_TIMEOUT seconds
# (default 300) is killed: a hang fails the test instead of stalling CI.
set -euo pipefail
np=${1:?usage: mpirun.sh NP PROGRAM [ARGS...]}
shift
flags=(--oversubscribe --bind-to none -x LOOM_NUM_THREADS=1)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
exec timeout --kill-after=10 "${LOOM_MPI_TIMEOUT:-300}" mpirun "${flags[@]}" -np "$np" "$@"
