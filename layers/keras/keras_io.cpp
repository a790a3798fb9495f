// Keras files in and out (keras_io.h): the zip and HDF5 containers around
// the config translation of keras_config.h.
//
// Where Keras keeps weights:
//   Keras 3 model.weights.h5   <object path>/vars/<i>            Embedding, Dense
//                              <object path>/cell/vars/<i>       SimpleRNN, LSTM, GRU
//                              <object path>/{forward,backward}_layer/cell/vars/<i>
//                                                                Bidirectional
//     object path: "layers/" + the class in snake_case, numbered over
//     model.layers (keras_config.h);
//   Keras 2 .h5                model_weights/<layer>/<weight name>, the
//     names in the layer group's weight_names attribute, in order.
// In both, a layer's weights come in Keras's get_weights() order, which is
// Loom's parameters() order (Bidirectional: forward, then backward).
#include <algorithm>
#include <cstdio>
#include <map>

#include "loom/layers/keras/hdf5_file.h"
#include "loom/layers/keras/keras_config.h"
#include "loom/layers/keras/keras_io.h"
#include "loom/layers/keras/zip_archive.h"
#include "loom/layers/rnn/bidirectional.h"
#include "loom/layers/rnn/rnn.h"
#include "loom/layers/saving/json.h"
#include "loom/version.h"

namespace loom {

using keras::H5File;
using keras::KerasFlavor;

bool keras_files_supported() { return true; }

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Runs `f`, prefixing any loom::Error with the file (errors from the layer
// factory name the layer but not the file).
template <typename F>
auto with_file(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    fail("{}: {}", path, what);
  }
}

// ---- weight locations ------------------------------------------------------------------------

// Keras 3: dataset paths of a layer's weights under its object path.
std::vector<std::string> keras3_weight_paths(const Layer& layer) {
  auto numbered = [](const std::string& prefix, size_t n, std::vector<std::string>& out) {
    for (size_t i = 0; i < n; ++i) out.push_back(fmt::format("{}/{}", prefix, i));
  };
  std::vector<std::string> paths;
  if (const auto* bi = dynamic_cast<const Bidirectional*>(&layer)) {
    numbered("forward_layer/cell/vars", bi->forward_layer()->parameters().size(), paths);
    numbered("backward_layer/cell/vars", bi->backward_layer()->parameters().size(), paths);
  } else if (dynamic_cast<const RNN*>(&layer) != nullptr) {
    numbered("cell/vars", layer.parameters().size(), paths);
  } else {
    numbered("vars", layer.parameters().size(), paths);
  }
  return paths;
}

// Keras 2: the weight names Keras gives a layer's weights ("lstm/lstm_cell/kernel:0").
std::vector<std::string> keras2_weight_names(const Layer& layer) {
  auto cell_names = [](const std::string& prefix, const std::string& cell, const Layer& l,
                       std::vector<std::string>& out) {
    static const char* kNames[] = {"kernel", "recurrent_kernel", "bias"};
    const size_t n = l.parameters().size();
    for (size_t i = 0; i < n && i < 3; ++i) out.push_back(fmt::format("{}/{}/{}:0", prefix, cell, kNames[i]));
  };
  auto cell_of = [](const Layer& l) { return keras::keras_snake_case(l.type_name()) + "_cell"; };
  std::vector<std::string> names;
  if (const auto* bi = dynamic_cast<const Bidirectional*>(&layer)) {
    cell_names(layer.name() + "/forward_" + bi->forward_layer()->name(), cell_of(*bi->forward_layer()),
               *bi->forward_layer(), names);
    cell_names(layer.name() + "/backward_" + bi->backward_layer()->name(),
               cell_of(*bi->backward_layer()), *bi->backward_layer(), names);
  } else if (dynamic_cast<const RNN*>(&layer) != nullptr) {
    cell_names(layer.name(), cell_of(layer), layer, names);
  } else if (layer.type_name() == "Embedding") {
    names.push_back(layer.name() + "/embeddings:0");
  } else {
    static const char* kNames[] = {"kernel", "bias"};
    const size_t n = layer.parameters().size();
    for (size_t i = 0; i < n && i < 2; ++i) names.push_back(fmt::format("{}/{}:0", layer.name(), kNames[i]));
  }
  return names;
}

// The model's layers that hold weights, in model order.
std::vector<LayerPtr> layers_with_weights(const Model& model) {
  std::vector<LayerPtr> out;
  for (const LayerPtr& l : model.layers())
    if (!l->parameters().empty()) out.push_back(l);
  return out;
}

// Weights read for each layer, checked against the layer; set only once
// every layer's weights are in hand and fit.
class PendingWeights {
 public:
  explicit PendingWeights(std::string file) : file_(std::move(file)) {}
  void add(const LayerPtr& layer, std::vector<Tensor> values, const std::string& source) {
    const std::vector<ParameterPtr> params = layer->parameters();
    LOOM_CHECK(values.size() == params.size(),
               "{}: layer '{}' ({}) has {} weights but the file has {} ({})", file_,
               layer->name(), layer->type_name(), params.size(), values.size(), source);
    for (size_t i = 0; i < params.size(); ++i) {
      const Shape& want = params[i]->value.shape();
      LOOM_CHECK(values[i].shape() == want,
                 "{}: layer '{}' ({}): weight {} '{}' has shape {} in the file ({}), the layer "
                 "needs {}",
                 file_, layer->name(), layer->type_name(), i, params[i]->name,
                 shape_str(values[i].shape()), source, shape_str(want));
      LOOM_CHECK(values[i].dtype() == DType::f32 || values[i].dtype() == DType::f64,
                 "{}: layer '{}': weight {} is not floating point in the file ({})", file_,
                 layer->name(), i, source);
      values[i] = values[i].to(params[i]->value.dtype());
    }
    pending_.emplace_back(layer, std::move(values));
  }
  void apply() {
    for (auto& [layer, values] : pending_) layer->set_weights(values);
  }

 private:
  std::string file_;
  std::vector<std::pair<LayerPtr, std::vector<Tensor>>> pending_;
};

void read_keras3_weights(Model& model, const H5File& h5,
                         const std::vector<std::pair<std::string, std::string>>& object_paths,
                         PendingWeights& pending) {
  std::map<std::string, std::string> path_of(object_paths.begin(), object_paths.end());
  for (const LayerPtr& layer : layers_with_weights(model)) {
    auto it = path_of.find(layer->name());
    LOOM_CHECK(it != path_of.end(), "{}: layer '{}' has no place in the weights file", h5.name(),
               layer->name());
    std::vector<Tensor> values;
    for (const std::string& rel : keras3_weight_paths(*layer)) {
      const std::string path = it->second + "/" + rel;
      LOOM_CHECK(h5.is_dataset(path), "{}: layer '{}' ({}): weight '{}' is missing from the file",
                 h5.name(), layer->name(), layer->type_name(), path);
      values.push_back(h5.read_dataset(path));
    }
    pending.add(layer, std::move(values), it->second);
  }
}

// Keras 2's layer_names (or weight_names) attribute, which Keras splits into
// name0, name1, ... when it outgrows an HDF5 object header.
std::vector<std::string> read_split_list(const H5File& h5, const std::string& object,
                                         const std::string& attr) {
  if (h5.has_attr(object, attr)) return h5.read_string_list_attr(object, attr);
  std::vector<std::string> out;
  for (int i = 0; h5.has_attr(object, attr + std::to_string(i)); ++i) {
    std::vector<std::string> part = h5.read_string_list_attr(object, attr + std::to_string(i));
    out.insert(out.end(), part.begin(), part.end());
  }
  LOOM_CHECK(!out.empty() || h5.has_attr(object, attr + "0"),
             "{}: group '{}' has no {} attribute (not a Keras 2 weights group)", h5.name(),
             object.empty() ? "/" : object, attr);
  return out;
}

// Keras 2: weights by layer order (as Keras's load_weights), names checked
// only for the count and shapes of each layer's list.
void read_keras2_weights(Model& model, const H5File& h5, const std::string& root,
                         PendingWeights& pending) {
  std::vector<std::pair<std::string, std::vector<std::string>>> file_layers;
  for (const std::string& name : read_split_list(h5, root, "layer_names")) {
    const std::string group = root.empty() ? name : root + "/" + name;
    LOOM_CHECK(h5.is_group(group), "{}: layer '{}' is listed but has no group", h5.name(), name);
    std::vector<std::string> weights = read_split_list(h5, group, "weight_names");
    if (!weights.empty()) file_layers.emplace_back(name, std::move(weights));
  }
  // By name when the file names every layer of the model (a model loaded
  // from Keras), else by Keras's layer order, as Keras's load_weights does.
  std::vector<LayerPtr> layers;
  for (const auto& [name, weights] : file_layers) {
    const std::vector<LayerPtr> all = model.layers();
    auto it = std::find_if(all.begin(), all.end(), [&](const LayerPtr& l) { return l->name() == name; });
    if (it == all.end() || (*it)->parameters().empty()) break;
    layers.push_back(*it);
  }
  if (layers.size() != file_layers.size() || layers.size() != layers_with_weights(model).size()) {
    layers.clear();
    for (const std::string& name : keras::export_keras_config(model, KerasFlavor::keras2, nullptr).layer_names)
      for (const LayerPtr& l : model.layers())
        if (l->name() == name && !l->parameters().empty()) layers.push_back(l);
  }
  LOOM_CHECK(file_layers.size() == layers.size(),
             "{}: the file has weights for {} layers, the model has {} layers with weights", h5.name(),
             file_layers.size(), layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& [name, weights] = file_layers[i];
    const std::string group = root.empty() ? name : root + "/" + name;
    std::vector<Tensor> values;
    for (const std::string& w : weights) {
      LOOM_CHECK(h5.is_dataset(group + "/" + w), "{}: layer '{}': weight '{}' is missing", h5.name(),
                 name, w);
      values.push_back(h5.read_dataset(group + "/" + w));
    }
    pending.add(layers[i], std::move(values), "layer '" + name + "'");
  }
}

// ---- whole models ------------------------------------------------------------------------------

std::string entry_text(const std::vector<keras::ZipEntry>& entries, const std::string& name,
                       const std::string& path) {
  for (const keras::ZipEntry& e : entries)
    if (e.name == name) return e.data;
  fail("{}: not a Keras 3 model archive: it has no {}", path, name);
}

const keras::ZipEntry* find_entry(const std::vector<keras::ZipEntry>& entries, const std::string& name) {
  for (const keras::ZipEntry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

std::shared_ptr<Model> build_model(const keras::KerasImport& in, const std::string& path) {
  std::shared_ptr<Model> model =
      with_file(path, [&] { return Model::from_architecture(in.architecture); });
  LOOM_CHECK(model->built(),
             "{}: the model has no input shape, so its weights cannot be created (give the Keras "
             "model an Input)",
             path);
  return model;
}

TextVectorization make_vectorizer(const keras::KerasVectorizer& v, std::vector<std::string> vocab,
                                  const std::string& path) {
  return with_file(path, [&] {
    TextVectorization tv(v.options);
    // Keras lists the padding token as an empty first line.
    tv.set_vocabulary(vocab);
    return tv;
  });
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

KerasModel load_keras_archive(const std::string& path) {
  const std::vector<keras::ZipEntry> entries = keras::read_zip(path);
  const Json metadata = with_file(path, [&] {
    return Json::parse(entry_text(entries, "metadata.json", path), path + ":metadata.json");
  });
  const std::string version = metadata.value("keras_version", "");
  LOOM_CHECK(version.rfind("3.", 0) == 0,
             "{}: written by Keras '{}'; Loom reads .keras archives of Keras 3.x (save a Keras 2 "
             "model as .h5)",
             path, version);
  const Json config = with_file(path, [&] {
    return Json::parse(entry_text(entries, "config.json", path), path + ":config.json");
  });
  const keras::KerasImport in = keras::import_keras_config(config, KerasFlavor::keras3, path);
  KerasModel out;
  out.keras_version = version;
  out.model = build_model(in, path);
  const H5File h5 = H5File::open_image(entry_text(entries, "model.weights.h5", path),
                                       path + ":model.weights.h5");
  PendingWeights pending(h5.name());
  read_keras3_weights(*out.model, h5, in.object_paths, pending);
  if (in.vectorizer) {
    std::vector<std::string> vocab;
    if (in.vectorizer->vocabulary) {
      vocab = *in.vectorizer->vocabulary;
    } else {
      const std::string asset = "assets/" + in.vectorizer->object_path + "/vocabulary.txt";
      const keras::ZipEntry* e = find_entry(entries, asset);
      LOOM_CHECK(e != nullptr, "{}: the TextVectorization's vocabulary ({}) is missing", path, asset);
      vocab = split_lines(e->data);
    }
    out.vectorizer = make_vectorizer(*in.vectorizer, vocab, path);
  }
  pending.apply();
  return out;
}

KerasModel load_keras_h5(const std::string& path) {
  const H5File h5 = H5File::open(path);
  LOOM_CHECK(h5.has_attr("", "model_config"),
             "{}: a weights-only file (no model_config): load it with load_keras_weights into a "
             "model of the same architecture",
             path);
  const std::string version = h5.has_attr("", "keras_version") ? h5.read_string_attr("", "keras_version") : "";
  LOOM_CHECK(version.rfind("2.", 0) == 0 || version.rfind("3.", 0) == 0,
             "{}: written by Keras '{}'; Loom reads .h5 files of Keras 2.x and 3.x", path, version);
  const KerasFlavor flavor = version.rfind("3.", 0) == 0 ? KerasFlavor::keras3 : KerasFlavor::keras2;
  const Json config = with_file(path, [&] {
    return Json::parse(h5.read_string_attr("", "model_config"), path + ":model_config");
  });
  const keras::KerasImport in = keras::import_keras_config(config, flavor, path);
  LOOM_CHECK(!in.vectorizer, "{}: a TextVectorization in a .h5 file (its vocabulary is not saved "
             "there); save the Keras model as .keras", path);
  KerasModel out;
  out.keras_version = version;
  out.model = build_model(in, path);
  PendingWeights pending(path);
  read_keras2_weights(*out.model, h5, "model_weights", pending);
  pending.apply();
  return out;
}

}  // namespace

KerasModel load_keras(const std::string& path) {
  if (ends_with(path, ".keras")) return load_keras_archive(path);
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return load_keras_h5(path);
  fail("{}: not a Keras model file name (expected .keras or .h5)", path);
}

void load_keras_weights(Model& model, const std::string& path) {
  LOOM_CHECK(model.built(), "{}: the model '{}' is not built; build it (or call it once) before "
             "loading weights", path, model.name());
  PendingWeights pending(path);
  if (ends_with(path, ".keras")) {
    const std::vector<keras::ZipEntry> entries = keras::read_zip(path);
    const H5File h5 = H5File::open_image(entry_text(entries, "model.weights.h5", path),
                                         path + ":model.weights.h5");
    read_keras3_weights(model, h5, keras::export_keras_config(model, KerasFlavor::keras3, nullptr).object_paths,
                        pending);
  } else {
    const H5File h5 = H5File::open(path);
    if (h5.has_attr("", "model_config")) {
      read_keras2_weights(model, h5, "model_weights", pending);
    } else if (h5.has_attr("", "layer_names") || h5.has_attr("", "layer_names0")) {
      read_keras2_weights(model, h5, "", pending);
    } else {
      LOOM_CHECK(h5.is_group("layers"),
                 "{}: neither Keras 3 weights (a 'layers' group) nor Keras 2 weights (a "
                 "layer_names attribute)",
                 path);
      read_keras3_weights(model, h5, keras::export_keras_config(model, KerasFlavor::keras3, nullptr).object_paths,
                          pending);
    }
  }
  pending.apply();
}

// ---- writing ------------------------------------------------------------------------------------

namespace {

// Keras's version whose file layout Loom writes (and the tests load with).
constexpr const char* kKeras3Version = "3.15.1";
constexpr const char* kKeras2Version = "2.21.0";

// Keras 3's model.weights.h5: a group per object (the layer, its cell, the
// Bidirectional's two layers, the vectorizer's lookup table), each with its
// "vars" group holding the variables as datasets "0", "1", ...
std::string keras3_weights_image(const Model& model, const keras::KerasExport& ex, const std::string& name) {
  H5File h5 = H5File::create_image(name);
  h5.create_group("vars");
  std::map<std::string, std::string> path_of(ex.object_paths.begin(), ex.object_paths.end());
  for (size_t i = 0; i < ex.layer_names.size(); ++i) {
    const std::string& base = ex.all_object_paths[i];
    h5.create_group(base + "/vars");
    if (base == ex.vectorizer_object_path) h5.create_group(base + "/_lookup_layer/vars");
    if (!path_of.count(ex.layer_names[i])) continue;
    const LayerPtr layer = model.get_layer(ex.layer_names[i]);
    if (dynamic_cast<const Bidirectional*>(layer.get()) != nullptr) {
      for (const char* side : {"forward_layer", "backward_layer"}) {
        h5.create_group(base + "/" + side + "/vars");
        h5.create_group(base + "/" + side + "/cell/vars");
      }
    } else if (dynamic_cast<const RNN*>(layer.get()) != nullptr) {
      h5.create_group(base + "/cell/vars");
    }
    const std::vector<Tensor> weights = layer->get_weights();
    const std::vector<std::string> paths = keras3_weight_paths(*layer);
    for (size_t w = 0; w < weights.size(); ++w)
      h5.write_dataset(base + "/" + paths[w], weights[w].to(Device::cpu()).to(DType::f32));
  }
  return h5.image();
}

void write_keras3_archive(const Model& model, const std::string& path, const TextVectorization* vectorizer) {
  const keras::KerasExport ex = keras::export_keras_config(model, KerasFlavor::keras3, vectorizer);
  std::vector<keras::ZipEntry> entries;
  const Json metadata = Json::object({{"keras_version", Json(kKeras3Version)},
                                      {"date_saved", Json("")},
                                      {"loom_version", Json(std::string(loom::version()))}});
  entries.push_back({"metadata.json", metadata.dump()});
  entries.push_back({"config.json", ex.config.dump()});
  entries.push_back({"model.weights.h5", keras3_weights_image(model, ex, path + ":model.weights.h5")});
  if (vectorizer) {
    // Keras writes the vocabulary for the layer and for its lookup table.
    std::string text;
    const auto& vocab = vectorizer->vocabulary();
    for (size_t i = 0; i < vocab.size(); ++i) text += (i ? "\n" : "") + vocab[i];
    for (const std::string& dir : {ex.vectorizer_object_path + "/_lookup_layer", ex.vectorizer_object_path})
      entries.push_back({"assets/" + dir + "/vocabulary.txt", text});
  }
  keras::write_zip(path, entries);
}

void write_keras2_weights(H5File& h5, const std::string& root, const Model& model,
                          const keras::KerasExport& ex) {
  h5.create_group(root.empty() ? "/" : root);
  std::map<std::string, std::string> is_layer(ex.object_paths.begin(), ex.object_paths.end());
  for (const std::string& name : ex.layer_names) {
    const std::string group = root.empty() ? name : root + "/" + name;
    h5.create_group(group);
    std::vector<std::string> weight_names;
    if (is_layer.count(name)) {
      const LayerPtr layer = model.get_layer(name);
      const std::vector<Tensor> weights = layer->get_weights();
      weight_names = keras2_weight_names(*layer);
      for (size_t w = 0; w < weights.size(); ++w)
        h5.write_dataset(group + "/" + weight_names[w], weights[w].to(Device::cpu()).to(DType::f32));
    }
    h5.write_string_list_attr(group, "weight_names", weight_names);
  }
  const std::string top = root.empty() ? "" : root;
  h5.write_string_list_attr(top, "layer_names", ex.layer_names);
  h5.write_string_attr(top, "backend", "tensorflow", true);
  h5.write_string_attr(top, "keras_version", kKeras2Version, true);
}

// Writes through a temporary file renamed over `path`, so a failure leaves
// any previous file as it was.
template <typename F>
void write_atomically(const std::string& path, F&& write) {
  const std::string tmp = path + ".tmp";
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  LOOM_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "{}: cannot rename the written file into place",
             path);
}

void write_keras2_h5(const Model& model, const std::string& path) {
  const keras::KerasExport ex = keras::export_keras_config(model, KerasFlavor::keras2, nullptr);
  write_atomically(path, [&](const std::string& tmp) {
    H5File h5 = H5File::create(tmp);
    h5.write_string_attr("", "backend", "tensorflow", true);
    h5.write_string_attr("", "keras_version", kKeras2Version, true);
    h5.write_string_attr("", "model_config", ex.config.dump(), true);
    write_keras2_weights(h5, "model_weights", model, ex);
    h5.close();
  });
}

void write_keras3_weights_file(const Model& model, const std::string& path) {
  const keras::KerasExport ex = keras::export_keras_config(model, KerasFlavor::keras3, nullptr);
  const std::string image = keras3_weights_image(model, ex, path);
  write_atomically(path, [&](const std::string& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    LOOM_CHECK(f != nullptr, "{}: cannot create the file", path);
    const bool ok = std::fwrite(image.data(), 1, image.size(), f) == image.size();
    LOOM_CHECK(std::fclose(f) == 0 && ok, "{}: writing the file failed", path);
  });
}

}  // namespace

void save_keras(const Model& model, const std::string& path, const TextVectorization* vectorizer) {
  LOOM_CHECK(model.built(), "{}: the model '{}' is not built; build it before saving", path, model.name());
  if (ends_with(path, ".keras")) return with_file(path, [&] { write_keras3_archive(model, path, vectorizer); });
  LOOM_CHECK(vectorizer == nullptr,
             "{}: a vectorizer can only be saved in a Keras 3 .keras archive (Keras's .h5 files do "
             "not hold its vocabulary)",
             path);
  if (ends_with(path, ".weights.h5")) return with_file(path, [&] { write_keras3_weights_file(model, path); });
  if (ends_with(path, ".h5")) return with_file(path, [&] { write_keras2_h5(model, path); });
  fail("{}: not a Keras file name (expected .keras, .h5 or .weights.h5)", path);
}

}  // namespace loom
