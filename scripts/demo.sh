#!/usr/bin/env bash
# The README's second command: installs what is missing (scripts/deps.sh),
# builds the two sentiment examples in Release, trains a BiLSTM on the
# built-in synthetic review corpus, prints its test accuracy, and classifies
# two sentences with the saved model file.
#
#   bash scripts/demo.sh                # build into ./build
#   BUILD_DIR=out bash scripts/demo.sh
#
# Sizes are chosen so training takes one to three minutes on two cores:
# 8,000 training reviews cut to their last 64 tokens (the synthetic label is
# stated by the review's last opinion, see layers/text/synthetic.h), a
# 64-wide embedding, 32 LSTM units per direction, 4 epochs at lr 0.005.
# The last lines classify a sentence whose later clause decides the label.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install_deps

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$(nproc)" --target train_sentiment predict_sentiment

MODEL="$BUILD_DIR/demo_sentiment.loom"
"$BUILD_DIR/train_sentiment" --data synthetic --model bilstm --train-size 8000 --test-size 2000 \
  --maxlen 64 --embed 64 --units 32 --epochs 4 --batch 32 --lr 0.005 --seed 1 \
  --save "$MODEL" --plot "$BUILD_DIR/demo_sentiment.svg"

echo
echo "Classifying two sentences with $MODEL:"
"$BUILD_DIR/predict_sentiment" --model "$MODEL" \
  "honestly , i loved the soundtrack and the acting was truly superb ." \
  "the cast was good but it was a dull , endless movie ."
