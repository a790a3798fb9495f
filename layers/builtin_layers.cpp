// Loom's built-in layer types, registered with the layer factory on its
// first use (layer_factory.cpp calls this). One line per type: it also keeps
// each type's object file linked into programs that only ever load models.
// This file sits above every layer type; the factory itself knows none.
#include <map>
#include <string>

#include "loom/layers/activation.h"
#include "loom/layers/concatenate.h"
#include "loom/layers/dense.h"
#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/global_average_pooling1d.h"
#include "loom/layers/global_max_pooling1d.h"
#include "loom/layers/layer_factory.h"
#include "loom/layers/masking.h"
#include "loom/layers/rnn/bidirectional.h"
#include "loom/layers/rnn/rnn.h"
#include "loom/layers/spatial_dropout1d.h"
#include "loom/layers/training/model.h"

namespace loom {

void register_builtin_layers(std::map<std::string, LayerFactory>& f) {
  f["Activation"] = &Activation::from_config;
  f["Concatenate"] = &Concatenate::from_config;
  f["Dense"] = &Dense::from_config;
  f["Dropout"] = &Dropout::from_config;
  f["Embedding"] = &Embedding::from_config;
  f["GlobalAveragePooling1D"] = &GlobalAveragePooling1D::from_config;
  f["GlobalMaxPooling1D"] = &GlobalMaxPooling1D::from_config;
  f["Masking"] = &Masking::from_config;
  f["SpatialDropout1D"] = &SpatialDropout1D::from_config;
  // Recurrent layers (layers/rnn/), and the built-in cells a generic RNN
  // layer is rebuilt over.
  f["SimpleRNN"] = &SimpleRNN::from_config;
  f["LSTM"] = &LSTM::from_config;
  f["GRU"] = &GRU::from_config;
  f["Bidirectional"] = &Bidirectional::from_config;
  f["RNN"] = &RNN::from_config;
  f["SimpleRNNCell"] = &SimpleRNNCell::from_config;
  f["LSTMCell"] = &LSTMCell::from_config;
  f["GRUCell"] = &GRUCell::from_config;
  // Nested models (layers/training/): their config holds their own architecture text.
  f["Model"] = &Model::from_config;
  f["Sequential"] = &Model::from_config;
}

}  // namespace loom
