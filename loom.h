// Loom's public API in one include. Internals (the explicit BPTT in
// layers/rnn/bptt.h, backend kernels beyond the registry) are included by
// the files that need them, not from here; the sentiment application is an
// example (examples/sentiment/).
#pragma once

// autograd/: tensors, the tape, differentiable ops, gradient checks
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "autograd/parameter.h"
#include "autograd/tape.h"
#include "autograd/tensor.h"
// backends/: choosing a backend, threads, devices
#include "backends/registry.h"
// optim/: optimizers and learning-rate schedules
#include "optim/optimizer.h"
#include "optim/optimizers.h"
#include "optim/schedules.h"
// layers/: layer types, their weights, recurrent layers
#include "layers/activation.h"
#include "layers/concatenate.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/global_average_pooling1d.h"
#include "layers/global_max_pooling1d.h"
#include "layers/layer.h"
#include "layers/layer_factory.h"
#include "layers/masking.h"
#include "layers/spatial_dropout1d.h"
#include "layers/weights/initializers.h"
#include "layers/weights/regularizers.h"
#include "layers/rnn/bidirectional.h"
#include "layers/rnn/cell.h"
#include "layers/rnn/gru_cell.h"
#include "layers/rnn/lstm_cell.h"
#include "layers/rnn/rnn.h"
#include "layers/rnn/simple_rnn_cell.h"
#include "layers/rnn/stacked_cells.h"
// layers/training/: the model, fit/evaluate/predict, callbacks, metrics
#include "layers/training/callbacks.h"
#include "layers/training/history_plot.h"
#include "layers/training/metrics.h"
#include "layers/training/model.h"
#include "layers/training/progress.h"
// layers/saving/: model files, checkpoints, JSON
#include "layers/saving/json.h"
#include "layers/saving/saving.h"
// layers/text/: text processing and data set readers
#include "layers/text/datasets.h"
#include "layers/text/synthetic.h"
#include "layers/text/text_vectorization.h"
