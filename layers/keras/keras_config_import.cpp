// Keras model config -> Loom architecture (keras_config.h).
//
// Two passes: every Keras layer config becomes a Loom layer entry (options
// copied, converted or refused by name), then the Keras graph (Sequential
// list, or functional inbound nodes) becomes Loom's input/node/output list.
#include <map>
#include <regex>
#include <set>

#include "loom/layers/keras/keras_config.h"

namespace loom::keras {

std::string keras_snake_case(const std::string& class_name) {
  // Keras's naming.to_snake_case, step by step.
  std::string s = std::regex_replace(class_name, std::regex(R"(\W+)"), "");
  s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

namespace {

// One entry of the Keras layers list, with its place for error messages.
struct KerasLayer {
  std::string class_name, name, module;
  const Json* config = nullptr;
  const Json* inbound_nodes = nullptr;
  size_t position = 0;  // 0-based index in the layers list
  std::string where;    // "m.keras: layer 3 'lstm' (LSTM)"
};

// The operations Keras 3 records to compute a mask (Embedding(mask_zero)'s
// NotEqual(ids, 0), Masking's Any(NotEqual(x, v)), ...).
bool is_mask_op_class(const std::string& cls) {
  return cls == "NotEqual" || cls == "Any" || cls == "All" || cls == "Cast" || cls == "LogicalAnd";
}

// A Keras 3 operation node rather than a layer: its module says so (the
// legacy .h5 format writes no module, so a mask operation is known by name).
bool is_keras_op(const KerasLayer& l) {
  return l.module.rfind("keras.src.ops", 0) == 0 || l.module.rfind("keras.ops", 0) == 0 ||
         (l.module.empty() && is_mask_op_class(l.class_name));
}

// Reads one Keras layer config into a Loom config object: each key is
// copied, converted, ignored (no effect on what the layer computes) or
// required to have its default; finish() refuses any key not handled.
class OptionReader {
 public:
  OptionReader(const Json& config, std::string where) : config_(config), where_(std::move(where)) {
    LOOM_CHECK(config.is_object(), "{}: the layer config is not a JSON object", where_);
  }
  const Json* find(const std::string& key) {
    seen_.insert(key);
    return config_.find(key);
  }
  // Copies a bool, number, string or list of integers under the same name (or `to`).
  void copy(const std::string& key, const std::string& to = "") {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) return;
    LOOM_CHECK(!v->is_object(), "{}: option {} = {} is not supported by Loom", where_, key,
               v->dump());
    out_.set(to.empty() ? key : to, *v);
  }
  void copy_initializer(const std::string& key) {
    if (const Json* v = find(key); v != nullptr && !v->is_null())
      out_.set(key, Json(initializer_spec(key, *v)));
  }
  void copy_regularizer(const std::string& key) {
    if (const Json* v = find(key); v != nullptr && !v->is_null())
      out_.set(key, Json(regularizer_spec(key, *v)));
  }
  void copy_activation(const std::string& key) {
    const Json* v = find(key);
    if (v == nullptr || v->is_null()) return;
    if (v->is_string()) {
      out_.set(key, *v);
      return;
    }
    // Keras 3 writes a built-in activation function as a small object.
    const Json* inner = v->is_object() ? v->find("config") : nullptr;
    LOOM_CHECK(inner != nullptr && inner->is_string(),
               "{}: option {} = {} is not supported by Loom (a built-in activation by name is)",
               where_, key, v->dump());
    out_.set(key, *inner);
  }
  void ignore(std::initializer_list<const char*> keys) {
    for (const char* k : keys) seen_.insert(k);
  }
  // The option must be absent, null or `expected` (a value Loom's layer
  // always has).
  void require(const std::string& key, const Json& expected = Json()) {
    const Json* v = find(key);
    if (v == nullptr || v->is_null() || *v == expected) return;
    fail("{}: option {} = {} is not supported by Loom (only {} is)", where_, key, v->dump(),
         expected.is_null() ? std::string("null") : expected.dump());
  }
  void finish() const {
    for (const auto& [key, value] : config_.items())
      LOOM_CHECK(seen_.count(key), "{}: option {} = {} is not supported by Loom", where_, key,
                 value.dump());
  }
  Json take() { return std::move(out_); }
  const std::string& where() const { return where_; }

 private:
  // {"class_name": "RandomUniform", "config": {"minval": -0.05, ...}} ->
  // "RandomUniform(minval=-0.05, ...)", which loom::Initializer parses
  // (and refuses, naming it, when it does not know the name or an argument).
  std::string initializer_spec(const std::string& key, const Json& v) const {
    if (v.is_string()) return v.as_string();
    LOOM_CHECK(v.is_object() && v.contains("class_name"),
               "{}: option {} = {} is not an initializer Loom reads", where_, key, v.dump());
    std::vector<std::string> args;
    if (const Json* c = v.find("config"); c != nullptr && c->is_object()) {
      for (const auto& [arg, value] : c->items()) {
        if (value.is_null()) continue;  // seed=None, input_axes=None, ...
        LOOM_CHECK(value.is_number(), "{}: option {}: argument {} = {} is not supported by Loom",
                   where_, key, arg, value.dump());
        args.push_back(fmt::format("{}={}", arg, value.dump()));
      }
    }
    const std::string& cls = v.get_string("class_name");
    return args.empty() ? cls : fmt::format("{}({})", cls, fmt::join(args, ", "));
  }
  // {"class_name": "L2", "config": {"l2": 0.01}} -> "l1_l2(l1=0, l2=0.01)".
  std::string regularizer_spec(const std::string& key, const Json& v) const {
    LOOM_CHECK(v.is_object() && v.contains("class_name"),
               "{}: option {} = {} is not a regularizer Loom reads", where_, key, v.dump());
    const std::string& cls = v.get_string("class_name");
    const Json* c = v.find("config");
    auto factor = [&](const char* name) {
      const Json* f = c != nullptr ? c->find(name) : nullptr;
      return f != nullptr && f->is_number() ? f->as_number() : 0.0;
    };
    LOOM_CHECK(cls == "L1" || cls == "L2" || cls == "L1L2" || cls == "l1" || cls == "l2" ||
                   cls == "l1_l2",
               "{}: option {}: regularizer {} is not supported by Loom (L1, L2 and L1L2 are)",
               where_, key, cls);
    return fmt::format("l1_l2(l1={}, l2={})", factor("l1"), factor("l2"));
  }

  const Json& config_;
  std::string where_;
  std::set<std::string> seen_;
  Json out_ = Json::object();
};

// Keras's dtype policy of a layer: float32 (or float64) only.
std::string float_dtype_of(const Json* dtype, const std::string& where) {
  if (dtype == nullptr || dtype->is_null()) return "f32";
  std::string name;
  if (dtype->is_string()) {
    name = dtype->as_string();
  } else if (const Json* c = dtype->is_object() ? dtype->find("config") : nullptr;
             c != nullptr && c->is_object() && c->contains("name")) {
    name = c->get_string("name");
  } else {
    fail("{}: dtype {} is not a dtype policy Loom reads", where, dtype->dump());
  }
  if (name == "float32") return "f32";
  if (name == "float64") return "f64";
  fail("{}: dtype policy '{}' is not supported by Loom (float32 and float64 are; save the model "
       "with the float32 policy)",
       where, name);
}

// Options every Keras layer config has and that do not change what it computes.
void read_common(OptionReader& r) {
  r.ignore({"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "batch_size"});
  r.require("activity_regularizer");
}

void read_recurrent(OptionReader& r, const std::string& cls) {
  r.copy("units");
  r.copy_activation("activation");
  if (cls != "SimpleRNN") r.copy_activation("recurrent_activation");
  r.copy("use_bias");
  r.copy_initializer("kernel_initializer");
  r.copy_initializer("recurrent_initializer");
  r.copy_initializer("bias_initializer");
  if (cls == "LSTM") r.copy("unit_forget_bias");
  if (cls == "GRU") r.copy("reset_after");
  r.copy_regularizer("kernel_regularizer");
  r.copy_regularizer("recurrent_regularizer");
  r.copy_regularizer("bias_regularizer");
  for (const char* k : {"kernel_constraint", "recurrent_constraint", "bias_constraint"})
    r.require(k);
  r.copy("dropout");
  r.copy("recurrent_dropout");
  r.copy("seed");
  for (const char* k : {"return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                        "time_major", "zero_output_for_mask"})
    r.copy(k);
  // implementation (Keras 2) and use_cudnn (Keras 3) choose how Keras
  // computes, not what; Loom's backend makes that choice itself.
  r.ignore({"implementation", "use_cudnn"});
}

// Flattens a translated layer into Loom's "prefix.key" config entries.
void put_nested(Json& out, const std::string& prefix, const Json& layer) {
  out.set(prefix + "_type", Json(layer.get_string("class_name")));
  out.set(prefix + "_name", Json(layer.get_string("name")));
  for (const auto& [k, v] : layer.at("config").items()) out.set(prefix + "." + k, v);
}

Json translate_layer(const std::string& cls, const std::string& name, const Json& config,
                     const std::string& where);

// A layer nested in a Bidirectional ({"class_name": "LSTM", "config": {...}}).
Json translate_nested(const Json& j, const std::string& where) {
  LOOM_CHECK(j.is_object() && j.contains("class_name") && j.contains("config"),
             "{}: the wrapped layer is not a layer config", where);
  const std::string& cls = j.get_string("class_name");
  LOOM_CHECK(cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN",
             "{}: Bidirectional over {} is not supported by Loom (LSTM, GRU and SimpleRNN are)",
             where, cls);
  const Json& config = j.at("config");
  const std::string name = config.value("name", keras_snake_case(cls));
  return translate_layer(cls, name, config, fmt::format("{} (wrapped {} '{}')", where, cls, name));
}

// One Keras layer config -> {"class_name", "name", "config", "dtype", "trainable"}.
Json translate_layer(const std::string& cls, const std::string& name, const Json& config,
                     const std::string& where) {
  OptionReader r(config, where);
  read_common(r);
  if (cls == "Embedding") {
    r.copy("input_dim");
    r.copy("output_dim");
    r.copy("mask_zero");
    r.copy_initializer("embeddings_initializer");
    r.copy_regularizer("embeddings_regularizer");
    r.require("embeddings_constraint");
    r.require("sparse", Json(false));
    r.require("quantization_config");
    r.require("lora_rank");
    r.ignore({"input_length", "lora_alpha"});  // input_length: Keras 2's shape hint only
  } else if (cls == "Dense") {
    r.copy("units");
    r.copy_activation("activation");
    r.copy("use_bias");
    r.copy_initializer("kernel_initializer");
    r.copy_initializer("bias_initializer");
    r.copy_regularizer("kernel_regularizer");
    r.copy_regularizer("bias_regularizer");
    r.require("kernel_constraint");
    r.require("bias_constraint");
    r.require("quantization_config");
    r.require("lora_rank");
    r.ignore({"lora_alpha"});
  } else if (cls == "Dropout" || cls == "SpatialDropout1D") {
    r.copy("rate");
    r.copy("seed");
    if (cls == "Dropout") r.copy("noise_shape");
    else r.require("noise_shape");
  } else if (cls == "Activation") {
    r.copy_activation("activation");
  } else if (cls == "Masking") {
    r.copy("mask_value");
  } else if (cls == "GlobalAveragePooling1D" || cls == "GlobalMaxPooling1D") {
    r.require("data_format", Json("channels_last"));
    r.copy("keepdims");
  } else if (cls == "Concatenate") {
    r.copy("axis");
  } else if (cls == "SimpleRNN" || cls == "LSTM" || cls == "GRU") {
    read_recurrent(r, cls);
  } else if (cls == "Bidirectional") {
    Json merge = r.find("merge_mode") ? *config.find("merge_mode") : Json("concat");
    Json out = Json::object();
    out.set("merge_mode", merge.is_null() ? Json("none") : merge);
    if (const Json* layer = r.find("layer")) put_nested(out, "layer", translate_nested(*layer, where));
    else fail("{}: the Bidirectional config has no 'layer'", where);
    if (const Json* bw = r.find("backward_layer"); bw != nullptr && !bw->is_null())
      put_nested(out, "backward_layer", translate_nested(*bw, where));
    r.finish();
    return Json::object({{"class_name", Json(cls)},
                         {"name", Json(name)},
                         {"config", out},
                         {"dtype", Json(float_dtype_of(config.find("dtype"), where))},
                         {"trainable", Json(config.value("trainable", true))}});
  } else {
    fail("{}: layer type {} is not supported by Loom", where, cls);
  }
  r.finish();
  return Json::object({{"class_name", Json(cls)},
                       {"name", Json(name)},
                       {"config", r.take()},
                       {"dtype", Json(float_dtype_of(config.find("dtype"), where))},
                       {"trainable", Json(config.value("trainable", true))}});
}

// ---- TextVectorization ----------------------------------------------------------------------

KerasVectorizer read_vectorizer(const KerasLayer& l) {
  OptionReader r(*l.config, l.where);
  r.ignore({"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "vocabulary_size",
            "encoding", "pad_to_max_tokens"});
  KerasVectorizer v;
  TextVectorizationOptions& o = v.options;
  // Keras's layer pads and truncates at the end and knows no HTML breaks.
  o.padding = "post";
  o.truncating = "post";
  o.strip_html_breaks = false;
  if (const Json* m = r.find("max_tokens"); m != nullptr && !m->is_null()) o.max_tokens = m->as_int();
  const Json* standardize = r.find("standardize");
  if (standardize == nullptr || standardize->is_null()) o.standardize = "none";
  else if (standardize->is_string()) o.standardize = standardize->as_string();
  else fail("{}: option standardize = {} is not supported by Loom (a built-in mode by name is)",
            l.where, standardize->dump());
  const Json* split = r.find("split");
  LOOM_CHECK(split != nullptr && split->is_string() &&
                 (split->as_string() == "whitespace" || split->as_string() == "character"),
             "{}: option split = {} is not supported by Loom (whitespace and character are)",
             l.where, split ? split->dump() : "null");
  o.split = split->as_string();
  r.require("ngrams");
  r.require("output_mode", Json("int"));
  r.require("sparse", Json(false));
  r.require("ragged", Json(false));
  r.require("idf_weights");
  const Json* length = r.find("output_sequence_length");
  LOOM_CHECK(length != nullptr && length->is_integer() && length->as_int() > 0,
             "{}: option output_sequence_length = {} is not supported by Loom (a fixed length "
             "is needed to feed the model)",
             l.where, length ? length->dump() : "null");
  o.output_sequence_length = length->as_int();
  if (const Json* vocab = r.find("vocabulary"); vocab != nullptr && !vocab->is_null()) {
    LOOM_CHECK(vocab->is_array(), "{}: option vocabulary = {} is not a list of tokens", l.where,
               vocab->dump());
    v.vocabulary = vocab->to_string_vector();
  }
  r.finish();
  return v;
}


// ---- the graph ---------------------------------------------------------------------------------

Json input_entry(const KerasLayer& l, const std::string& name) {
  const Json& c = *l.config;
  const Json* shape = c.find("batch_shape");
  if (shape == nullptr || shape->is_null()) shape = c.find("batch_input_shape");
  LOOM_CHECK(shape != nullptr && shape->is_array() && shape->size() >= 2,
             "{}: the input has no batch shape (batch_shape or batch_input_shape)", l.where);
  for (const char* flag : {"sparse", "ragged", "optional"})
    LOOM_CHECK(!c.value(flag, false), "{}: option {} = true is not supported by Loom", l.where, flag);
  std::vector<int64_t> dims;
  for (size_t i = 1; i < shape->size(); ++i)
    dims.push_back(shape->at(i).is_null() ? -1 : shape->at(i).as_int());
  const std::string dtype = c.value("dtype", "float32");
  std::string loom_dtype;
  if (dtype == "float32") loom_dtype = "f32";
  else if (dtype == "float64") loom_dtype = "f64";
  else if (dtype == "int32" || dtype == "int64" || dtype == "uint8" || dtype == "int16") loom_dtype = "i32";
  else fail("{}: input dtype {} is not supported by Loom (float32, float64 and integer ids are)",
            l.where, dtype);
  const Json& batch = shape->at(0);
  return Json::object({{"name", Json(name)},
                       {"shape", Json(dims)},
                       {"dtype", Json(loom_dtype)},
                       {"batch_size", Json(static_cast<long long>(batch.is_null() ? -1 : batch.as_int()))}});
}

// A tensor in the Keras graph: (layer name, node index, tensor index).
struct TensorRef {
  std::string layer;
  int64_t node = 0, index = 0;
  bool operator<(const TensorRef& o) const {
    return std::tie(layer, node, index) < std::tie(o.layer, o.node, o.index);
  }
};

TensorRef ref_from_history(const Json& h, const std::string& where) {
  LOOM_CHECK(h.is_array() && h.size() >= 3 && h.at(0).is_string(),
             "{}: a tensor reference {} is not [layer, node, index]", where, h.dump());
  return {h.at(0).as_string(), h.at(1).as_int(), h.at(2).as_int()};
}

bool is_keras_tensor(const Json& j) {
  return j.is_object() && j.value("class_name", "") == "__keras_tensor__";
}

// The tensors a Keras 3 node argument holds (a tensor, or a list of them).
void collect_tensors(const Json& arg, std::vector<TensorRef>& out, const std::string& where) {
  if (is_keras_tensor(arg)) {
    out.push_back(ref_from_history(arg.at("config").at("keras_history"), where));
  } else if (arg.is_array()) {
    for (const Json& a : arg.elements()) collect_tensors(a, out, where);
  }
}

// One call of a layer: its input tensors and the tensors passed as masks.
struct KerasCall {
  std::vector<TensorRef> inputs, masks;
};

KerasCall parse_call(const Json& node, KerasFlavor flavor, const std::string& where) {
  KerasCall call;
  auto read_kwargs = [&](const Json& kwargs) {
    if (!kwargs.is_object()) return;
    for (const auto& [key, value] : kwargs.items()) {
      if (key == "training" || value.is_null()) continue;
      LOOM_CHECK(key == "mask", "{}: the call argument {} is not supported by Loom", where, key);
      collect_tensors(value, call.masks, where);
    }
  };
  if (flavor == KerasFlavor::keras3) {
    LOOM_CHECK(node.is_object(), "{}: an inbound node is not an object", where);
    if (const Json* args = node.find("args")) {
      for (const Json& a : args->elements()) {
        if (is_keras_tensor(a) || a.is_array()) collect_tensors(a, call.inputs, where);
      }
    }
    if (const Json* kwargs = node.find("kwargs")) read_kwargs(*kwargs);
  } else {
    LOOM_CHECK(node.is_array(), "{}: an inbound node is not a list", where);
    for (const Json& t : node.elements()) {
      call.inputs.push_back(ref_from_history(t, where));
      if (t.size() >= 4) read_kwargs(t.at(3));
    }
  }
  return call;
}

// [name, node, index] or a list of them -> refs.
std::vector<TensorRef> endpoint_refs(const Json& j, const std::string& where) {
  std::vector<TensorRef> refs;
  if (j.is_array() && !j.empty() && j.at(0).is_string()) {
    refs.push_back(ref_from_history(j, where));
  } else if (j.is_array()) {
    for (const Json& e : j.elements()) refs.push_back(ref_from_history(e, where));
  }
  return refs;
}

class GraphImporter {
 public:
  GraphImporter(std::vector<KerasLayer> layers, KerasFlavor flavor, std::string file)
      : layers_(std::move(layers)), flavor_(flavor), file_(std::move(file)) {}

  // Functional: inputs, nodes in dependency order, outputs.
  void import_functional(const Json& model_config, KerasImport& out) {
    std::map<std::string, const KerasLayer*> by_name;
    for (const KerasLayer& l : layers_) by_name[l.name] = &l;
    for (const TensorRef& r : endpoint_refs(model_config.at("input_layers"), file_)) {
      auto it = by_name.find(r.layer);
      LOOM_CHECK(it != by_name.end() && it->second->class_name == "InputLayer",
                 "{}: model input '{}' is not an InputLayer", file_, r.layer);
      add_input(*it->second, out);
    }
    // Calls in dependency order: repeat passes until every call is placed.
    std::vector<std::pair<const KerasLayer*, size_t>> pending;
    for (const KerasLayer& l : layers_) {
      if (l.class_name == "InputLayer") continue;
      LOOM_CHECK(l.inbound_nodes != nullptr && l.inbound_nodes->is_array(),
                 "{}: the layer has no inbound_nodes", l.where);
      for (size_t k = 0; k < l.inbound_nodes->size(); ++k) pending.emplace_back(&l, k);
    }
    while (!pending.empty()) {
      std::vector<std::pair<const KerasLayer*, size_t>> later;
      for (const auto& [l, k] : pending)
        if (!place_call(*l, k, out)) later.emplace_back(l, k);
      LOOM_CHECK(later.size() < pending.size(),
                 "{}: layer '{}' takes a tensor no layer of the model produces", file_,
                 later.front().first->name);
      pending = std::move(later);
    }
    Json outputs = Json::array();
    for (const TensorRef& r : endpoint_refs(model_config.at("output_layers"), file_)) {
      auto it = refs_.find(r);
      LOOM_CHECK(it != refs_.end() && !it->second.is_null(),
                 "{}: model output [{}, {}, {}] is not a layer output Loom can produce", file_,
                 r.layer, r.node, r.index);
      outputs.push_back(it->second);
    }
    out.architecture.set("inputs", inputs_);
    out.architecture.set("nodes", nodes_);
    out.architecture.set("outputs", outputs);
  }

 private:
  void add_input(const KerasLayer& l, KerasImport& out) {
    if (l.config->value("dtype", "") == "string") {
      // Only as the input of a TextVectorization, which Loom runs in front of the model.
      string_inputs_.insert(l.name);
      return;
    }
    refs_[{l.name, 0, 0}] =
        Json::object({{"input", Json(static_cast<long long>(inputs_.size()))}});
    inputs_.push_back(input_entry(l, l.name));
  }

  // Places call k of layer l once its inputs exist; false when they do not yet.
  bool place_call(const KerasLayer& l, size_t k, KerasImport& out) {
    const KerasCall call = parse_call(l.inbound_nodes->at(k), flavor_, l.where);
    for (const TensorRef& r : call.inputs)
      if (!refs_.count(r) && !string_inputs_.count(r.layer)) return false;
    if (is_keras_op(l)) return place_mask_op(l, k);
    if (l.class_name == "TextVectorization") return place_vectorizer(l, k, call, out);
    for (const TensorRef& m : call.masks) {
      auto it = refs_.find(m);
      LOOM_CHECK(it != refs_.end() && it->second.is_null(),
                 "{}: an explicit mask argument is not supported by Loom (masks come from "
                 "Embedding(mask_zero) and Masking)",
                 l.where);
    }
    Json ins = Json::array();
    for (const TensorRef& r : call.inputs) {
      LOOM_CHECK(!string_inputs_.count(r.layer),
                 "{}: a string input feeds this layer; Loom reads strings only through a "
                 "TextVectorization at the front of the model",
                 l.where);
      const Json& ref = refs_.at(r);
      LOOM_CHECK(!ref.is_null(), "{}: takes the output of an operation Loom does not run ({})",
                 l.where, r.layer);
      ins.push_back(ref);
    }
    const int64_t node_index = static_cast<int64_t>(nodes_.size());
    nodes_.push_back(Json::object({{"layer", Json(l.name)}, {"inputs", ins}}));
    // A layer has at most a handful of outputs (an RNN with its states).
    for (int64_t t = 0; t < 8; ++t)
      refs_[{l.name, static_cast<int64_t>(k), t}] = Json::object(
          {{"node", Json(static_cast<long long>(node_index))}, {"index", Json(static_cast<long long>(t))}});
    return true;
  }

  // Keras 3 records the ops that compute a mask (NotEqual(ids, 0) for
  // Embedding(mask_zero)) as graph nodes passed as mask= arguments. Loom
  // propagates the same masks itself, so such an op is accepted when its
  // output only ever serves as a mask (null ref = "mask only").
  bool place_mask_op(const KerasLayer& l, size_t k) {
    refs_[{l.name, static_cast<int64_t>(k), 0}] = Json();
    return true;
  }

  bool place_vectorizer(const KerasLayer& l, size_t k, const KerasCall& call, KerasImport& out) {
    LOOM_CHECK(!out.vectorizer, "{}: a second TextVectorization; Loom runs one, at the front", l.where);
    LOOM_CHECK(call.inputs.size() == 1 && string_inputs_.count(call.inputs[0].layer),
               "{}: a TextVectorization must take the model's string input directly", l.where);
    out.vectorizer = read_vectorizer(l);
    // The vectorizer's ids become the Loom model's input.
    Json in = Json::object({{"name", Json(l.name)},
                            {"shape", Json(std::vector<int64_t>{out.vectorizer->options.output_sequence_length})},
                            {"dtype", Json("i32")},
                            {"batch_size", Json(-1LL)}});
    refs_[{l.name, static_cast<int64_t>(k), 0}] =
        Json::object({{"input", Json(static_cast<long long>(inputs_.size()))}});
    inputs_.push_back(in);
    return true;
  }

  std::vector<KerasLayer> layers_;
  KerasFlavor flavor_;
  std::string file_;
  std::map<TensorRef, Json> refs_;  // Keras tensor -> Loom ref (null: a mask op's output)
  std::set<std::string> string_inputs_;
  Json inputs_ = Json::array(), nodes_ = Json::array();
};

std::vector<KerasLayer> read_layer_list(const Json& layers, const std::string& file) {
  LOOM_CHECK(layers.is_array(), "{}: the model config's 'layers' is not a list", file);
  std::vector<KerasLayer> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Json& j = layers.at(i);
    KerasLayer l;
    l.position = i;
    LOOM_CHECK(j.is_object() && j.contains("class_name") && j.contains("config"),
               "{}: layer {} of the model config is not a layer config", file, i);
    l.class_name = j.get_string("class_name");
    l.module = j.value("module", "");
    l.config = &j.at("config");
    l.name = j.contains("name") ? j.get_string("name") : l.config->value("name", "");
    if (l.name.empty()) l.name = fmt::format("{}_{}", keras_snake_case(l.class_name), i);
    l.inbound_nodes = j.find("inbound_nodes");
    l.where = fmt::format("{}: layer {} '{}' ({})", file, i, l.name, l.class_name);
    if (const Json* registered = j.find("registered_name");
        registered != nullptr && registered->is_string() &&
        registered->as_string().find('>') != std::string::npos)
      fail("{}: a custom layer (registered as '{}'); Loom loads Keras's built-in layers only",
           l.where, registered->as_string());
    out.push_back(l);
  }
  return out;
}

// Keras 3's folder of each layer in model.weights.h5: its class in
// snake_case, numbered when the class repeats (lstm, lstm_1, ...), over
// model.layers in order (InputLayer included; ops are not layers).
std::vector<std::pair<std::string, std::string>> keras3_object_paths(
    const std::vector<KerasLayer>& layers) {
  std::map<std::string, int> used;
  std::vector<std::pair<std::string, std::string>> paths;
  for (const KerasLayer& l : layers) {
    if (is_keras_op(l)) continue;
    std::string snake = keras_snake_case(l.class_name);
    auto [it, first] = used.emplace(snake, 0);
    if (!first) snake += fmt::format("_{}", ++it->second);
    paths.emplace_back(l.name, "layers/" + snake);
  }
  return paths;
}

}  // namespace

KerasImport import_keras_config(const Json& whole, KerasFlavor flavor, const std::string& file) {
  LOOM_CHECK(whole.is_object() && whole.contains("class_name") && whole.contains("config"),
             "{}: the model config is not a Keras model ({{\"class_name\", \"config\"}})", file);
  const std::string cls = whole.get_string("class_name");
  const Json& config = whole.at("config");
  LOOM_CHECK(cls == "Sequential" || cls == "Functional" || cls == "Model",
             "{}: model class {} is not supported by Loom (Sequential and functional models are)",
             file, cls);
  LOOM_CHECK(config.is_object() && config.contains("layers"),
             "{}: the model config has no 'layers' list", file);
  std::vector<KerasLayer> layers = read_layer_list(config.at("layers"), file);

  KerasImport out;
  out.architecture = Json::object({{"format", Json("loom-architecture")},
                                   {"version", Json(1LL)},
                                   {"name", Json(config.value("name", "model"))},
                                   {"trainable", Json(config.value("trainable", true))}});
  if (flavor == KerasFlavor::keras3) out.object_paths = keras3_object_paths(layers);

  // Loom layer entries (inputs, ops and the vectorizer are not layers).
  Json loom_layers = Json::array();
  for (const KerasLayer& l : layers) {
    if (l.class_name == "InputLayer" || l.class_name == "TextVectorization" || is_keras_op(l))
      continue;
    LOOM_CHECK(l.class_name != "Sequential" && l.class_name != "Functional" && l.class_name != "Model",
               "{}: a model nested in a model is not supported by Loom", l.where);
    loom_layers.push_back(translate_layer(l.class_name, l.name, *l.config, l.where));
    out.layer_order.push_back(l.name);
  }
  for (const KerasLayer& l : layers)
    if (is_keras_op(l) && !is_mask_op_class(l.class_name))
      fail("{}: the operation {} is not supported by Loom", l.where, l.class_name);
  out.architecture.set("layers", loom_layers);

  if (cls == "Sequential") {
    out.architecture.set("class_name", Json("Sequential"));
    size_t first = 0;
    std::optional<Json> input;
    if (!layers.empty() && layers[0].class_name == "InputLayer") {
      if (layers[0].config->value("dtype", "") != "string") input = input_entry(layers[0], layers[0].name);
      first = 1;
    } else if (!layers.empty()) {
      const Json* shape = layers[0].config->find("batch_input_shape");
      if (shape == nullptr || shape->is_null()) shape = layers[0].config->find("batch_shape");
      if (shape != nullptr && !shape->is_null()) {
        Json in = Json::object({{"batch_shape", *shape},
                                {"dtype", Json(layers[0].config->value("dtype", "float32") == "int32" ? "int32" : "float32")}});
        KerasLayer pseudo = layers[0];
        pseudo.config = &in;
        input = input_entry(pseudo, "input");
      }
    }
    if (first < layers.size() && layers[first].class_name == "TextVectorization") {
      out.vectorizer = read_vectorizer(layers[first]);
      input = Json::object({{"shape", Json(std::vector<int64_t>{out.vectorizer->options.output_sequence_length})},
                            {"dtype", Json("i32")}});
    }
    for (const KerasLayer& l : layers)
      LOOM_CHECK(l.class_name != "TextVectorization" || (out.vectorizer && &l == &layers[first]),
                 "{}: a TextVectorization must be the model's first layer", l.where);
    const int64_t batch = input && input->contains("batch_size") ? input->get_int("batch_size") : -1;
    if (batch > 0 && !out.layer_order.empty()) {
      // Loom's Sequential has no fixed batch size (a stateful RNN needs
      // one): the same chain as a functional model keeps it.
      Json in = *input;
      in.set("name", Json(layers[0].name));
      Json nodes = Json::array();
      for (size_t i = 0; i < out.layer_order.size(); ++i) {
        Json ref = i == 0 ? Json::object({{"input", Json(0LL)}})
                          : Json::object({{"node", Json(static_cast<long long>(i - 1))}, {"index", Json(0LL)}});
        nodes.push_back(Json::object({{"layer", Json(out.layer_order[i])}, {"inputs", Json::array({ref})}}));
      }
      out.architecture.set("class_name", Json("Model"));
      out.architecture.set("inputs", Json::array({in}));
      out.architecture.set("nodes", nodes);
      out.architecture.set("outputs", Json::array({Json::object(
          {{"node", Json(static_cast<long long>(out.layer_order.size() - 1))}, {"index", Json(0LL)}})}));
    } else if (input) {
      Json in = Json::object({{"shape", input->at("shape")}, {"dtype", input->at("dtype")}});
      out.architecture.set("input", in);
    }
  } else {
    out.architecture.set("class_name", Json("Model"));
    GraphImporter graph(layers, flavor, file);
    graph.import_functional(config, out);
  }
  if (out.vectorizer) {
    for (const auto& [name, path] : out.object_paths)
      for (const KerasLayer& l : layers)
        if (l.name == name && l.class_name == "TextVectorization") out.vectorizer->object_path = path;
  }
  return out;
}

}  // namespace loom::keras
