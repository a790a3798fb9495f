// Loom's public API in one include. Internals (the explicit BPTT in
// layers/rnn/bptt.h, backend kernels beyond the registry) are included by
// the files that need them, not from here; the sentiment application is an
// example (examples/sentiment/).
#pragma once

// The version: LOOM_VERSION_* macros and loom::version()
#include "loom/version.h"

// autograd/: tensors, the tape, differentiable ops, gradient checks
#include "loom/autograd/gradcheck.h"
#include "loom/autograd/ops.h"
#include "loom/autograd/precision.h"
#include "loom/autograd/parameter.h"
#include "loom/autograd/tape.h"
#include "loom/autograd/tensor.h"
// backends/: choosing a backend, threads, devices
#include "loom/backends/cpu_isa.h"
#include "loom/backends/registry.h"
// optim/: optimizers and learning-rate schedules
#include "loom/optim/loss_scale.h"
#include "loom/optim/optimizer.h"
#include "loom/optim/optimizers.h"
#include "loom/optim/schedules.h"

#include "loom/distributed/distributed.h"
// layers/: layer types, their weights, recurrent layers
#include "loom/layers/activation.h"
#include "loom/layers/concatenate.h"
#include "loom/layers/dense.h"
#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/global_average_pooling1d.h"
#include "loom/layers/global_max_pooling1d.h"
#include "loom/layers/layer.h"
#include "loom/layers/precision_policy.h"
#include "loom/layers/layer_factory.h"
#include "loom/layers/masking.h"
#include "loom/layers/spatial_dropout1d.h"
#include "loom/layers/weights/initializers.h"
#include "loom/layers/weights/weight_budget.h"
#include "loom/layers/weights/regularizers.h"
#include "loom/layers/rnn/bidirectional.h"
#include "loom/layers/rnn/cell.h"
#include "loom/layers/rnn/gru_cell.h"
#include "loom/layers/rnn/lstm_cell.h"
#include "loom/layers/rnn/rnn.h"
#include "loom/layers/rnn/simple_rnn_cell.h"
#include "loom/layers/rnn/stacked_cells.h"
// layers/training/: the model, fit/evaluate/predict, callbacks, metrics
#include "loom/layers/training/backup.h"
#include "loom/layers/training/callbacks.h"
#include "loom/layers/training/history_plot.h"
#include "loom/layers/training/metrics.h"
#include "loom/layers/training/model.h"
#include "loom/layers/training/progress.h"
// layers/keras/: Keras model files in and out (.keras, .h5)
#include "loom/layers/keras/keras_io.h"
// layers/saving/: model files, checkpoints, JSON
#include "loom/layers/saving/json.h"
#include "loom/layers/saving/saving.h"
// layers/text/: text processing and data set readers
#include "loom/layers/text/datasets.h"
#include "loom/layers/text/synthetic.h"
#include "loom/layers/text/text_vectorization.h"
