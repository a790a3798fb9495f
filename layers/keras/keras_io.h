// Keras model files in and out.
//
//   loom::KerasModel k = loom::load_keras("model.keras");   // or a Keras 2 "model.h5"
//   loom::Tensor p = k.model->predict({k.vectorizer->encode_batch(texts)});
//   loom::save_keras(*model, "model.keras");               // Keras 3 loads it
//   loom::save_keras(*model, "model.h5");                  // tf_keras loads it
//   loom::load_keras_weights(*model, "model.weights.h5");  // weights only
//
// Files read:
//   .keras       Keras 3 archives (zip: metadata.json, config.json,
//                model.weights.h5, assets/); a TextVectorization at the
//                front comes back as KerasModel::vectorizer;
//   .h5          Keras 2 / tf-keras full models (model_config attribute +
//                model_weights group) and weights-only files, and Keras 3's
//                legacy .h5;
//   .weights.h5  Keras 3 weights (load_keras_weights).
// Layers: InputLayer, Embedding, Masking, SimpleRNN, LSTM, GRU,
// Bidirectional, Dense, Dropout, SpatialDropout1D, GlobalAveragePooling1D,
// GlobalMaxPooling1D, Activation, Concatenate, in Sequential and functional
// models (docs/KERAS.md has the option table). Anything else is refused
// with an error naming the file, the layer and the option.
//
// Needs a build with LOOM_WITH_HDF5=ON (libhdf5-dev, libzip-dev); without
// it every call throws saying so.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "loom/layers/text/text_vectorization.h"
#include "loom/layers/training/model.h"

namespace loom {

struct KerasModel {
  std::shared_ptr<Model> model;
  // A Keras 3 model's leading TextVectorization: the model itself takes its
  // (N, output_sequence_length) ids.
  std::optional<TextVectorization> vectorizer;
  std::string keras_version;  // of the writer, from the file
};

// True when this build reads and writes Keras files (LOOM_WITH_HDF5).
bool keras_files_supported();

// Reads a whole model (.keras or .h5). Throws loom::Error naming the file
// and the layer for anything Loom cannot reproduce exactly.
KerasModel load_keras(const std::string& path);

// Weights of a Keras file (.weights.h5, weights-only or full .h5, .keras)
// into `model`, built and of the same architecture: by Keras 3's layer paths
// for Keras 3 files, by layer order for Keras 2 files (as Keras does). Every
// weight is checked before any changes: when it throws, the model is as it was.
void load_keras_weights(Model& model, const std::string& path);

// Writes `model` for Keras: ".keras" -> a Keras 3 archive
// (keras.saving.load_model), ".h5" -> a Keras 2 file
// (tf_keras.models.load_model), ".weights.h5" -> Keras 3 weights only. With
// a vectorizer (".keras" only) the file's model takes strings: a
// TextVectorization in front, whose settings must be ones Keras has
// (padding and truncating "post", no HTML break stripping). Written
// atomically (a temporary file renamed over `path`).
void save_keras(const Model& model, const std::string& path,
                const TextVectorization* vectorizer = nullptr);

}  // namespace loom
