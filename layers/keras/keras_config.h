// Keras model configs (the JSON in a .keras archive's config.json or a
// Keras 2 .h5 file's model_config attribute) to Loom architectures and back.
// Pure JSON work: the files themselves are read and written by keras_io.cpp.
//
//   KerasImport in = import_keras_config(Json::parse(text), KerasFlavor::keras3, "m.keras");
//   auto model = Model::from_architecture(in.architecture);
//
// Loom's layers take Keras's names, defaults and weight layouts, so most of
// a layer config is copied key by key. What Loom does not implement (a
// constraint, an activity regularizer, a custom layer, a mixed-precision
// policy, TextVectorization's tf_idf mode, ...) is refused with an error
// naming the file, the layer, its position and the option, never dropped:
// a model that loads computes what Keras computes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loom/layers/saving/json.h"
#include "loom/layers/text/text_vectorization.h"

namespace loom {
class Model;
}

namespace loom::keras {

enum class KerasFlavor {
  keras3,  // Keras 3 (.keras archives, .weights.h5)
  keras2,  // Keras 2 / tf-keras (.h5 full models and weights)
};

// A TextVectorization layer at the front of a Keras 3 model.
struct KerasVectorizer {
  TextVectorizationOptions options;
  std::string object_path;  // "layers/text_vectorization": its folder under assets/
  std::optional<std::vector<std::string>> vocabulary;  // when the config lists it
};

struct KerasImport {
  Json architecture;  // a loom-architecture document (Model::from_architecture)
  std::optional<KerasVectorizer> vectorizer;
  // Keras 3's object path of every Loom layer, by layer name
  // ("lstm_1" -> "layers/lstm_1" or "layers/lstm_2" ...): where its
  // variables are in model.weights.h5.
  std::vector<std::pair<std::string, std::string>> object_paths;
  // Layers in Keras's order (model.layers, InputLayer excluded), by name.
  std::vector<std::string> layer_order;
};

// `config` is the whole model config ({"class_name": "Functional" |
// "Sequential" | "Model", "config": {...}}). `file` names the source in errors.
KerasImport import_keras_config(const Json& config, KerasFlavor flavor, const std::string& file);

// Keras's snake_case of a class name ("GlobalAveragePooling1D" ->
// "global_average_pooling1d", "SimpleRNN" -> "simple_rnn"): the name of a
// layer's folder in a Keras 3 weights file.
std::string keras_snake_case(const std::string& class_name);

// The model as a Keras config for `flavor`, with a TextVectorization (string
// input of shape (1,)) in front when `vectorizer` is given (Keras 3 only).
// Throws naming the layer for anything Keras cannot express.
struct KerasExport {
  Json config;
  // As KerasImport::object_paths, for writing model.weights.h5.
  std::vector<std::pair<std::string, std::string>> object_paths;
  std::string vectorizer_object_path;  // "layers/text_vectorization" when written
  // Every Keras layer of the written model in Keras's order (inputs and the
  // vectorizer included) and its Keras 3 object path: Keras 2's
  // layer_names, and the groups Keras 3's loader expects in model.weights.h5.
  std::vector<std::string> layer_names, all_object_paths;
};
KerasExport export_keras_config(const Model& model, KerasFlavor flavor,
                                const TextVectorization* vectorizer);

}  // namespace loom::keras
