#!/usr/bin/env bash
# Kills train_sentiment with SIGKILL at random points (mid-epoch, and during
# backup writes: with --backup-every 1 a large share of the run is spent
# writing), resumes it each time with `train_sentiment --resume FILE` (or
# the original command when no backup exists yet), and checks that the
# model file the finally completed run writes is byte-identical to an
# uninterrupted run's: same weights, optimizer state and metrics, bit for bit.
#
#   kill_resume_test.sh TRAIN_SENTIMENT BACKEND KILLS [RANDOM_SEED]
#
# A BiLSTM with dropout and recurrent dropout on synthetic reviews, one
# thread. Prints one line per kill and a summary line:
#   kill_resume: backend=B kills=K during_write=W resumed=R identical=yes
set -euo pipefail
BIN=${1:?usage: kill_resume_test.sh TRAIN_SENTIMENT BACKEND KILLS [SEED]}
BACKEND=${2:?backend}
KILLS=${3:?number of kills}
RANDOM=${4:-$$}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

FLAGS=(--data synthetic --train-size 480 --test-size 64 --model bilstm --embed 12 --units 6
       --dropout 0.2 --recurrent-dropout 0.2 --maxlen 32 --vocab 400 --epochs 3 --batch 16
       --seed 7 --threads 1 --backend "$BACKEND")

"$BIN" "${FLAGS[@]}" --save "$WORK/reference.loom" > "$WORK/reference.log" 2>&1

BACKUP="$WORK/run.backup"
RUN=("$BIN" "${FLAGS[@]}" --backup "$BACKUP" --backup-every 1 --save "$WORK/resumed.loom")
# An uninterrupted run with backups: the same model, and how long a run
# takes (the kill points are drawn over it).
start_ns=$(date +%s%N)
"${RUN[@]}" > "$WORK/timed.log" 2>&1
run_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
cmp -s "$WORK/reference.loom" "$WORK/resumed.loom" ||
  { echo "writing backups changed the trained model"; exit 1; }
rm -f "$WORK/resumed.loom"
echo "uninterrupted run with backups: ${run_ms} ms"
during_write=0
resumed=0
completed=0
kills=0
# Sets CMD to the next attempt: resume when a backup exists, else start.
next_attempt() {
  if [ -e "$BACKUP" ] || [ -e "$BACKUP.prev" ]; then
    resumed=$((resumed + 1))
    CMD=("$BIN" --resume "$BACKUP" --threads 1)
  else
    CMD=("${RUN[@]}")
  fi
}
# A completed run must have written the same model as the uninterrupted one.
check_completed() {
  if ! cmp -s "$WORK/reference.loom" "$WORK/resumed.loom"; then
    echo "kill_resume: backend=$BACKEND a resumed run's model differs from the uninterrupted run's"
    cat "$WORK/attempt.log"
    exit 1
  fi
  [ ! -e "$BACKUP" ] && [ ! -e "$BACKUP.prev" ] || { echo "backups were not deleted after the save"; exit 1; }
  rm -f "$WORK/resumed.loom"
  completed=$((completed + 1))
}
while [ "$kills" -lt "$KILLS" ]; do
  next_attempt
  before=$(ls "$WORK" | grep -c '\.next' || true)
  "${CMD[@]}" > "$WORK/attempt.log" 2>&1 &
  pid=$!
  # A point anywhere in a run: 5% to 95% of the uninterrupted time (a
  # resumed run has less left, so some attempts finish first).
  delay_ms=$(( run_ms * (5 + RANDOM % 91) / 100 ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    # A backup write was under way when it left a new PATH.next* file.
    after=$(ls "$WORK" | grep -c '\.next' || true)
    note=""
    if [ "$after" -gt "$before" ]; then during_write=$((during_write + 1)); note=" (during a backup write)"; fi
    echo "kill $kills: SIGKILL after ${delay_ms} ms of '${CMD[*]:1:2} ...'$note"
  else
    wait "$pid" || { echo "attempt failed:"; cat "$WORK/attempt.log"; exit 1; }
    grep -q "damaged" "$WORK/attempt.log" && echo "(a damaged backup was skipped: $(grep damaged "$WORK/attempt.log"))"
    check_completed
    echo "run completed (resumed $resumed time(s) so far): the same model as uninterrupted"
  fi
done
# The last run, to completion.
next_attempt
"${CMD[@]}" > "$WORK/attempt.log" 2>&1 || { echo "final attempt failed:"; cat "$WORK/attempt.log"; exit 1; }
check_completed
echo "kill_resume: backend=$BACKEND kills=$kills during_write=$during_write resumes=$resumed" \
     "completed_runs=$completed identical=yes"
