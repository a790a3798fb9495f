// Model architecture as JSON (format in layers/training/model.h), and back.
#include <map>

#include "loom/layers/layer_factory.h"
#include "loom/layers/saving/json.h"
#include "loom/layers/saving/saving.h"
#include "loom/version.h"
#include "loom/layers/training/model.h"

namespace loom {

namespace {

constexpr const char* kFormat = "loom-architecture";
constexpr int64_t kVersion = 1;

DType parse_dtype(const std::string& s, const std::string& where) {
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64})
    if (s == dtype_name(d)) return d;
  fail("{}: unknown dtype '{}' (expected f32, f64, i32 or i64)", where, s);
}

Json config_to_json(const Config& config) {
  Json j = Json::object();
  // A named reference, not a structured binding: clang before 16 cannot
  // capture a binding in a lambda (the fuzz build, cmake/LoomFuzz.cmake).
  for (const auto& member : config) {
    const std::string& key = member.first;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) j.set(key, Json(v));
          else if constexpr (std::is_same_v<T, int64_t>) j.set(key, Json(static_cast<long long>(v)));
          else if constexpr (std::is_same_v<T, double>) j.set(key, Json(v));
          else if constexpr (std::is_same_v<T, std::string>) j.set(key, Json(v));
          else j.set(key, Json(v));  // std::vector<int64_t>
        },
        member.second);
  }
  return j;
}

Config config_from_json(const Json& j, const std::string& where) {
  Config c;
  for (const auto& [key, v] : j.items()) {
    if (v.is_bool()) c[key] = v.as_bool();
    else if (v.is_integer()) c[key] = v.as_int();
    else if (v.is_number()) c[key] = v.as_number();
    else if (v.is_string()) c[key] = v.as_string();
    else if (v.is_array()) c[key] = v.to_int_vector();
    else fail("{}: config entry '{}' has unsupported JSON type {}", where, key, v.type_name());
  }
  return c;
}

Json layer_to_json(const Layer& l) {
  Json j = Json::object();
  j.set("class_name", Json(l.type_name()));
  j.set("name", Json(l.name()));
  j.set("config", config_to_json(l.config()));
  if (l.built()) j.set("dtype", Json(std::string(dtype_name(l.dtype()))));
  // Only a mixed policy is written: files without one read as float32.
  if (l.dtype_policy().mixed()) j.set("dtype_policy", Json(l.dtype_policy().name));
  j.set("trainable", Json(l.trainable()));
  return j;
}

LayerPtr layer_from_json(const Json& j) {
  const std::string cls = j.get_string("class_name");
  const std::string name = j.get_string("name");
  const std::string where = fmt::format("architecture: layer '{}'", name);
  Config config = j.contains("config") ? config_from_json(j.at("config"), where) : Config{};
  LayerPtr l = make_layer(cls, config, name);
  if (const Json* d = j.find("dtype")) {
    // A nested model's dtype comes from its own layers.
    if (!std::dynamic_pointer_cast<Model>(l)) l->set_dtype(parse_dtype(d->as_string(), where));
  }
  if (const Json* p = j.find("dtype_policy")) {
    try {
      l->set_dtype_policy(p->as_string());
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  }
  return l;
}

// Trainable flags are applied once everything is built, as freezing a
// layer also freezes the weights that building creates.
void apply_trainable(const Json& layers, const std::map<std::string, LayerPtr>& by_name) {
  for (const Json& lj : layers.elements())
    if (!lj.value("trainable", true)) by_name.at(lj.get_string("name"))->set_trainable(false);
}

Shape per_sample_shape(const Json& j) { return j.at("shape").to_int_vector(); }

}  // namespace

Json Model::to_architecture() const {
  const bool sequential = type_name() == "Sequential";
  Json j = Json::object();
  j.set("format", Json(kFormat));
  j.set("version", Json(static_cast<long long>(kVersion)));
  j.set("loom_version", Json(std::string(loom::version())));
  j.set("class_name", Json(type_name()));
  j.set("name", Json(name()));
  j.set("trainable", Json(trainable()));
  Json layers_json = Json::array();
  for (const LayerPtr& l : layers()) layers_json.push_back(layer_to_json(*l));
  j.set("layers", layers_json);
  if (sequential) {
    if (graph_built()) {
      const SymbolicTensor& in = inputs_.at(0);
      Json input = Json::object();
      input.set("shape", Json(Shape(in.shape.begin() + 1, in.shape.end())));
      input.set("dtype", Json(std::string(dtype_name(in.dtype))));
      j.set("input", input);
    }
    return j;
  }
  std::map<const SymbolicNode*, int64_t> input_index, node_index;
  Json inputs_json = Json::array();
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const SymbolicTensor& in = inputs_[i];
    input_index[in.node.get()] = static_cast<int64_t>(i);
    Json ij = Json::object();
    ij.set("name", Json(in.node->input_name));
    ij.set("shape", Json(Shape(in.shape.begin() + 1, in.shape.end())));
    ij.set("dtype", Json(std::string(dtype_name(in.dtype))));
    ij.set("batch_size", Json(static_cast<long long>(in.shape.at(0))));
    inputs_json.push_back(ij);
  }
  auto ref = [&](const SymbolicTensor& s) {
    Json r = Json::object();
    if (s.node->layer == nullptr) {
      r.set("input", Json(static_cast<long long>(input_index.at(s.node.get()))));
    } else {
      r.set("node", Json(static_cast<long long>(node_index.at(s.node.get()))));
      r.set("index", Json(static_cast<long long>(s.index)));
    }
    return r;
  };
  Json nodes_json = Json::array();
  for (size_t k = 0; k < nodes_.size(); ++k) {
    const auto& n = nodes_[k];
    Json nj = Json::object();
    nj.set("layer", Json(n->layer->name()));
    Json ins = Json::array();
    for (const SymbolicTensor& s : n->inputs) ins.push_back(ref(s));
    nj.set("inputs", ins);
    nodes_json.push_back(nj);
    node_index[n.get()] = static_cast<int64_t>(k);
  }
  Json outputs_json = Json::array();
  for (const SymbolicTensor& o : outputs_) outputs_json.push_back(ref(o));
  j.set("inputs", inputs_json);
  j.set("nodes", nodes_json);
  j.set("outputs", outputs_json);
  return j;
}

std::shared_ptr<Model> Model::from_architecture(const Json& j) {
  LOOM_CHECK(j.is_object() && j.value("format", std::string()) == kFormat,
             "Model::from_architecture: not a Loom architecture (expected \"format\": \"{}\")",
             kFormat);
  if (const Json* written_by = j.find("loom_version"))
    check_loom_version(written_by->is_string() ? written_by->as_string() : written_by->dump(),
                       "Model::from_architecture: the architecture");
  const int64_t version = j.get_int("version");
  LOOM_CHECK(version == kVersion,
             "Model::from_architecture: architecture version {} is not supported (this build "
             "reads version {})",
             version, kVersion);
  const std::string cls = j.get_string("class_name");
  const std::string name = j.get_string("name");
  std::map<std::string, LayerPtr> by_name;
  std::vector<LayerPtr> layers;
  for (const Json& lj : j.at("layers").elements()) {
    LayerPtr l = layer_from_json(lj);
    LOOM_CHECK(by_name.emplace(l->name(), l).second,
               "Model::from_architecture: model '{}' lists layer '{}' twice", name, l->name());
    layers.push_back(l);
  }

  std::shared_ptr<Model> model;
  if (cls == "Sequential") {
    if (const Json* in = j.find("input")) {
      model = std::make_shared<Sequential>(
          per_sample_shape(*in), parse_dtype(in->get_string("dtype"), "architecture: input"),
          layers, name);
    } else {
      model = std::make_shared<Sequential>(layers, name);
    }
  } else if (cls == "Model") {
    std::vector<SymbolicTensor> inputs;
    for (const Json& ij : j.at("inputs").elements())
      inputs.push_back(Input(per_sample_shape(ij),
                             parse_dtype(ij.get_string("dtype"), "architecture: input"),
                             ij.get_string("name"), ij.value("batch_size", int64_t{-1})));
    std::vector<std::vector<SymbolicTensor>> node_outputs;
    auto deref = [&](const Json& r) -> SymbolicTensor {
      if (r.contains("input")) {
        const int64_t i = r.get_int("input");
        LOOM_CHECK(i >= 0 && i < static_cast<int64_t>(inputs.size()),
                   "Model::from_architecture: reference to input {} of {}", i, inputs.size());
        return inputs[i];
      }
      const int64_t k = r.get_int("node"), idx = r.get_int("index");
      LOOM_CHECK(k >= 0 && k < static_cast<int64_t>(node_outputs.size()),
                 "Model::from_architecture: reference to node {} before it is defined", k);
      LOOM_CHECK(idx >= 0 && idx < static_cast<int64_t>(node_outputs[k].size()),
                 "Model::from_architecture: node {} has no output {}", k, idx);
      return node_outputs[k][idx];
    };
    for (const Json& nj : j.at("nodes").elements()) {
      const std::string lname = nj.get_string("layer");
      auto it = by_name.find(lname);
      LOOM_CHECK(it != by_name.end(), "Model::from_architecture: node calls unknown layer '{}'",
                 lname);
      std::vector<SymbolicTensor> ins;
      for (const Json& r : nj.at("inputs").elements()) ins.push_back(deref(r));
      node_outputs.push_back(call_symbolic(it->second, ins));
    }
    std::vector<SymbolicTensor> outputs;
    for (const Json& r : j.at("outputs").elements()) outputs.push_back(deref(r));
    model = std::make_shared<Model>(inputs, outputs, name);
  } else {
    fail("Model::from_architecture: unknown model class '{}' (expected Model or Sequential)", cls);
  }
  apply_trainable(j.at("layers"), by_name);
  if (!j.value("trainable", true)) model->set_trainable(false);
  return model;
}

std::string Model::to_json(int indent) const { return to_architecture().dump(indent); }

std::shared_ptr<Model> Model::from_json(const std::string& text) {
  return from_architecture(Json::parse(text, "architecture"));
}

Config Model::config() const { return {{"architecture", to_json()}}; }

LayerPtr Model::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "Model", name);
  const std::string text = r.get_string("architecture", "");
  r.finish();
  LOOM_CHECK(!text.empty(), "Model '{}': the config has no architecture", name);
  Json j = Json::parse(text, "architecture of '" + name + "'");
  j.set("name", Json(name));
  return from_architecture(j);
}

}  // namespace loom
