// Loom model -> Keras model config (keras_config.h).
//
// Every model is written as a Keras functional model (a Sequential becomes
// the chain it is). Each Loom layer's config() already uses Keras's names;
// initializer and regularizer strings become Keras's objects, and each
// flavour gets the keys its loader expects. The layer order is the one
// Keras itself computes for the rebuilt graph (export_order below), because
// Keras 3 finds a layer's weights by its place in that order.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "loom/layers/keras/keras_config.h"
#include "loom/layers/layer_factory.h"
#include "loom/layers/rnn/bidirectional.h"
#include "loom/layers/training/model.h"
#include "loom/layers/weights/initializers.h"
#include "loom/layers/weights/regularizers.h"
#include "loom/version.h"

namespace loom::keras {

namespace {

// ---- values -----------------------------------------------------------------------------------

std::string camel_case(const std::string& snake) {
  std::string out;
  bool upper = true;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string keras_dtype(DType d) {
  switch (d) {
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    default: return "float32";
  }
}

Json keras_object(const std::string& module, const std::string& cls, Json config) {
  Json j = Json::object({{"module", Json(module)}, {"class_name", Json(cls)}, {"config", std::move(config)}});
  j.set("registered_name", Json());
  return j;
}

Json initializer_json(const std::string& spec) {
  const Initializer init(spec);
  Json config = Json::object();
  for (const auto& [k, v] : init.args()) config.set(k, Json(v));
  const std::string& name = init.name();
  if (name != "zeros" && name != "ones" && name != "constant")
    config.set("seed", init.seed ? Json(static_cast<long long>(*init.seed)) : Json());
  return keras_object("keras.initializers", camel_case(name), config);
}

Json regularizer_json(const std::string& spec) {
  const Regularizer r = Regularizer::parse(spec);
  if (r.l1 == 0.0 && r.l2 == 0.0) return Json();
  return keras_object("keras.regularizers", "L1L2",
                      Json::object({{"l1", Json(r.l1)}, {"l2", Json(r.l2)}}));
}

Json config_value_json(const ConfigValue& v) {
  return std::visit(
      [](const auto& x) -> Json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) return Json(static_cast<long long>(x));
        else return Json(x);
      },
      v);
}

// ---- layer configs ------------------------------------------------------------------------------

// Copies Loom config entries to a Keras config, converting where Keras's
// form differs; anything left over at the end is an error (finish).
class KerasConfigWriter {
 public:
  KerasConfigWriter(const Config& loom, const std::string& name, const std::string& where,
                    KerasFlavor flavor)
      : loom_(loom), where_(where), flavor_(flavor) {
    out_.set("name", Json(name));
    out_.set("trainable", Json(true));
  }
  bool has(const std::string& key) const { return loom_.count(key) > 0; }
  const ConfigValue& get(const std::string& key) {
    used_.insert(key);
    return loom_.at(key);
  }
  void copy(const std::string& key) {
    if (has(key)) out_.set(key, config_value_json(get(key)));
  }
  void initializer(const std::string& key) {
    if (has(key)) out_.set(key, initializer_json(std::get<std::string>(get(key))));
  }
  void regularizer(const std::string& key) {
    out_.set(key, has(key) ? regularizer_json(std::get<std::string>(get(key))) : Json());
  }
  void set(const std::string& key, Json v) { out_.set(key, std::move(v)); }
  // Loom-only entries that do not change what the layer computes.
  void drop(std::initializer_list<const char*> keys) {
    for (const char* k : keys) used_.insert(k);
  }
  // Loom entries Keras cannot express unless they have Keras's value.
  void require(const std::string& key, const ConfigValue& expected) {
    if (has(key) && !(get(key) == expected))
      fail("{}: {} = {} cannot be written for Keras", where_, key, config_value_str(loom_.at(key)));
  }
  Json finish() {
    for (const auto& [key, value] : loom_)
      LOOM_CHECK(used_.count(key), "{}: option {} = {} cannot be written for Keras", where_, key,
                 config_value_str(value));
    return std::move(out_);
  }
  KerasFlavor flavor() const { return flavor_; }

 private:
  const Config& loom_;
  std::string where_;
  KerasFlavor flavor_;
  std::set<std::string> used_;
  Json out_ = Json::object();
};

Json dtype_policy(const Layer& layer, KerasFlavor flavor) {
  const std::string name = layer.dtype() == DType::f64 ? "float64" : "float32";
  if (flavor == KerasFlavor::keras2) return Json(name);
  return keras_object("keras", "DTypePolicy", Json::object({{"name", Json(name)}}));
}

void write_recurrent(KerasConfigWriter& w, const std::string& cls) {
  for (const char* k : {"return_sequences", "return_state", "go_backwards", "stateful", "unroll"}) w.copy(k);
  if (w.flavor() == KerasFlavor::keras2) w.copy("time_major");
  else w.require("time_major", false);
  w.copy("units");
  w.copy("activation");
  if (cls != "SimpleRNN") w.copy("recurrent_activation");
  w.copy("use_bias");
  w.initializer("kernel_initializer");
  w.initializer("recurrent_initializer");
  w.initializer("bias_initializer");
  if (cls == "LSTM") w.copy("unit_forget_bias");
  w.regularizer("kernel_regularizer");
  w.regularizer("recurrent_regularizer");
  w.regularizer("bias_regularizer");
  w.set("activity_regularizer", Json());
  for (const char* k : {"kernel_constraint", "recurrent_constraint", "bias_constraint"}) w.set(k, Json());
  w.copy("dropout");
  w.copy("recurrent_dropout");
  if (cls == "GRU") w.copy("reset_after");
  if (w.flavor() == KerasFlavor::keras3) {
    w.set("seed", w.has("seed") ? config_value_json(w.get("seed")) : Json());
    w.copy("zero_output_for_mask");
  } else {
    w.drop({"seed"});
    // Keras 2 writes this only when set.
    if (w.has("zero_output_for_mask") && std::get<bool>(w.get("zero_output_for_mask")))
      w.set("zero_output_for_mask", Json(true));
    if (cls != "SimpleRNN") w.set("implementation", Json(2LL));
  }
  w.drop({"implementation"});  // Loom's own choice of path
}

Json layer_config(const Layer& layer, KerasFlavor flavor, const std::string& where);

// {"module", "class_name", "config", "registered_name"} of a wrapped layer.
Json nested_layer(const Layer& layer, KerasFlavor flavor, const std::string& where) {
  return keras_object("keras.layers", layer.type_name(), layer_config(layer, flavor, where));
}

Json layer_config(const Layer& layer, KerasFlavor flavor, const std::string& where) {
  const std::string cls = layer.type_name();
  // Loom's mixed policies round products only (docs/SEMANTICS.md), Keras's
  // also the activations: rather than write a policy that computes
  // differently, the export asks for float32 (the weights are f32 anyway).
  LOOM_CHECK(!layer.dtype_policy().mixed(),
             "{}: layer '{}' has the dtype policy {}; Loom writes Keras models with the float32 "
             "policy only (set_dtype_policy(\"float32\") on it first: its weights are f32)",
             where, layer.name(), layer.dtype_policy().name);
  const Config loom = layer.config();
  KerasConfigWriter w(loom, layer.name(), where, flavor);
  w.set("dtype", dtype_policy(layer, flavor));
  if (cls == "Embedding") {
    w.copy("input_dim");
    w.copy("output_dim");
    w.initializer("embeddings_initializer");
    w.regularizer("embeddings_regularizer");
    w.set("activity_regularizer", Json());
    w.set("embeddings_constraint", Json());
    w.copy("mask_zero");
    if (flavor == KerasFlavor::keras2) w.set("input_length", Json());
    w.drop({"sparse", "seed"});  // Loom's sparse gradients and initializer seed
  } else if (cls == "Dense") {
    w.copy("units");
    w.copy("activation");
    w.copy("use_bias");
    w.initializer("kernel_initializer");
    w.initializer("bias_initializer");
    w.regularizer("kernel_regularizer");
    w.regularizer("bias_regularizer");
    w.set("activity_regularizer", Json());
    w.set("kernel_constraint", Json());
    w.set("bias_constraint", Json());
    w.drop({"seed"});
  } else if (cls == "SpatialDropout1D" && flavor == KerasFlavor::keras3) {
    // Keras 3's SpatialDropout1D takes only rate, seed, name and a dtype
    // name (no trainable, no policy object).
    w.copy("rate");
    w.set("seed", w.has("seed") ? config_value_json(w.get("seed")) : Json());
    const Json j = w.finish();
    return Json::object({{"rate", j.at("rate")},
                         {"seed", j.at("seed")},
                         {"name", j.at("name")},
                         {"dtype", Json(keras_dtype(layer.dtype()))}});
  } else if (cls == "Dropout" || cls == "SpatialDropout1D") {
    w.copy("rate");
    w.set("noise_shape", w.has("noise_shape") ? config_value_json(w.get("noise_shape")) : Json());
    w.set("seed", w.has("seed") ? config_value_json(w.get("seed")) : Json());
  } else if (cls == "Activation") {
    w.copy("activation");
  } else if (cls == "Masking") {
    w.copy("mask_value");
  } else if (cls == "GlobalAveragePooling1D" || cls == "GlobalMaxPooling1D") {
    w.set("data_format", Json("channels_last"));
    w.copy("keepdims");
  } else if (cls == "Concatenate") {
    w.copy("axis");
  } else if (cls == "SimpleRNN" || cls == "LSTM" || cls == "GRU") {
    write_recurrent(w, cls);
  } else if (cls == "Bidirectional") {
    const auto& bi = dynamic_cast<const Bidirectional&>(layer);
    const std::string merge = std::get<std::string>(w.get("merge_mode"));
    w.set("merge_mode", merge == "none" ? Json() : Json(merge));
    w.set("layer", nested_layer(*bi.forward_layer(), flavor, where));
    if (w.has("backward_layer_type"))
      w.set("backward_layer", nested_layer(*bi.backward_layer(), flavor, where));
    for (const auto& [key, value] : loom)
      if (key.rfind("layer", 0) == 0 || key.rfind("backward_layer", 0) == 0) w.drop({key.c_str()});
  } else {
    fail("{}: layer type {} cannot be written for Keras", where, cls);
  }
  return w.finish();
}

// ---- the graph ------------------------------------------------------------------------------

// Loom's graph (from Model::to_architecture) with shapes.
struct GraphNode {
  LayerPtr layer;         // null for a model input
  int64_t input_index = -1;
  std::vector<std::pair<int64_t, int64_t>> inputs;  // (graph node, output index)
  std::vector<Shape> input_shapes, output_shapes;
  int64_t call_index = 0;  // which call of its layer (Keras's node index)
  std::string input_name;  // for a model input
  DType output_dtype = DType::f32;
};

struct Graph {
  std::vector<GraphNode> nodes;                       // inputs first
  std::vector<std::pair<int64_t, int64_t>> outputs;   // (graph node, output index)
};

Graph read_graph(const Model& model, const std::string& where) {
  const Json arch = model.to_architecture();
  Graph g;
  std::map<std::string, int64_t> calls;
  auto add_input = [&](const std::string& name, const std::string& dtype, const Shape& per_sample,
                       int64_t batch) {
    GraphNode n;
    n.input_index = static_cast<int64_t>(g.nodes.size());
    n.input_name = name;
    for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64})
      if (dtype == dtype_name(d)) n.output_dtype = d;
    Shape s{batch};
    s.insert(s.end(), per_sample.begin(), per_sample.end());
    n.output_shapes = {s};
    g.nodes.push_back(n);
  };
  auto call = [&](const LayerPtr& layer, std::vector<std::pair<int64_t, int64_t>> ins) {
    GraphNode n;
    n.layer = layer;
    n.inputs = std::move(ins);
    for (const auto& [k, t] : n.inputs) n.input_shapes.push_back(g.nodes.at(k).output_shapes.at(t));
    n.output_shapes = layer->compute_output_shape(n.input_shapes);
    n.call_index = calls[layer->name()]++;
    n.output_dtype = layer->dtype();
    g.nodes.push_back(n);
  };
  std::vector<std::string> input_names;
  if (arch.get_string("class_name") == "Sequential") {
    LOOM_CHECK(arch.contains("input"),
               "{}: the Sequential model has no input shape; build it before saving for Keras", where);
    add_input("input_layer", arch.at("input").get_string("dtype"),
              arch.at("input").at("shape").to_int_vector(), -1);
    for (const LayerPtr& l : model.layers()) {
      const int64_t prev = static_cast<int64_t>(g.nodes.size()) - 1;
      call(l, {{prev, 0}});
    }
    g.outputs = {{static_cast<int64_t>(g.nodes.size()) - 1, 0}};
    return g;
  }
  const size_t n_inputs = arch.at("inputs").size();
  for (const Json& in : arch.at("inputs").elements())
    add_input(in.get_string("name"), in.get_string("dtype"), in.at("shape").to_int_vector(),
              in.value("batch_size", int64_t{-1}));
  auto deref = [&](const Json& r) -> std::pair<int64_t, int64_t> {
    if (r.contains("input")) return {r.get_int("input"), 0};
    return {static_cast<int64_t>(n_inputs) + r.get_int("node"), r.get_int("index")};
  };
  for (const Json& nj : arch.at("nodes").elements()) {
    std::vector<std::pair<int64_t, int64_t>> ins;
    for (const Json& r : nj.at("inputs").elements()) ins.push_back(deref(r));
    call(model.get_layer(nj.get_string("layer")), ins);
  }
  for (const Json& r : arch.at("outputs").elements()) g.outputs.push_back(deref(r));
  return g;
}

// The order Keras gives the layers of a functional model it builds from
// this graph (keras/src/ops/function.py map_graph): operations by depth
// from the outputs, deepest first, ties by first visit of a depth-first walk
// from the outputs. Entries are graph node indices of each layer's first call
// (inputs included).
std::vector<int64_t> export_order(const Graph& g) {
  std::vector<int64_t> post_order;
  std::map<std::string, int64_t> first_visit;  // layer (or input) key -> traversal index
  std::set<int64_t> finished;
  auto key_of = [&](int64_t n) {
    const GraphNode& node = g.nodes[n];
    return node.layer ? node.layer->name() : fmt::format("#input{}", node.input_index);
  };
  std::function<void(int64_t)> visit = [&](int64_t n) {
    if (finished.count(n)) return;
    first_visit.emplace(key_of(n), static_cast<int64_t>(first_visit.size()));
    for (const auto& [k, t] : g.nodes[n].inputs) visit(k);
    finished.insert(n);
    post_order.push_back(n);
  };
  for (const auto& [n, t] : g.outputs) visit(n);
  std::map<int64_t, int64_t> node_depth;
  std::map<std::string, int64_t> op_depth;
  for (auto it = post_order.rbegin(); it != post_order.rend(); ++it) {
    int64_t depth = node_depth.emplace(*it, 0).first->second;
    depth = std::max(depth, op_depth[key_of(*it)]);
    op_depth[key_of(*it)] = depth;
    node_depth[*it] = depth;
    for (const auto& [k, t] : g.nodes[*it].inputs) node_depth[k] = std::max(node_depth[k], depth + 1);
  }
  std::map<std::string, int64_t> first_node;
  for (size_t n = 0; n < g.nodes.size(); ++n) first_node.emplace(key_of(static_cast<int64_t>(n)), n);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (!g.nodes[n].layer && !op_depth.count(key_of(static_cast<int64_t>(n)))) {
      op_depth[key_of(static_cast<int64_t>(n))] = 0;  // an input no output uses
      first_visit[key_of(static_cast<int64_t>(n))] = -1;
    }
  std::vector<std::string> keys;
  for (const auto& [k, d] : op_depth) keys.push_back(k);
  std::sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    if (op_depth[a] != op_depth[b]) return op_depth[a] > op_depth[b];
    return first_visit[a] < first_visit[b];
  });
  std::vector<int64_t> order;
  for (const std::string& k : keys) order.push_back(first_node.at(k));
  return order;
}

Json shape_json(const Shape& s, bool batch_unknown) {
  Json j = Json::array();
  for (size_t i = 0; i < s.size(); ++i)
    j.push_back((i == 0 && batch_unknown) || s[i] < 0 ? Json() : Json(static_cast<long long>(s[i])));
  return j;
}



// Keras's names for the graph's inputs: the model's input names, or the
// vectorizer standing for input 0.
struct ExportNames {
  std::vector<std::string> of_node;  // graph node -> Keras layer name of its outputs
};

Json keras_tensor(const Graph& g, const ExportNames& names, int64_t n, int64_t t, KerasFlavor flavor,
                  bool batch_unknown) {
  const GraphNode& node = g.nodes[n];
  Json history = Json::array();
  history.push_back(Json(names.of_node[n]));
  history.push_back(Json(static_cast<long long>(node.call_index)));
  history.push_back(Json(static_cast<long long>(t)));
  if (flavor == KerasFlavor::keras2) {
    history.push_back(Json::object());
    return history;
  }
  return Json::object(
      {{"class_name", Json("__keras_tensor__")},
       {"config", Json::object({{"shape", shape_json(node.output_shapes.at(t), batch_unknown)},
                                {"dtype", Json(keras_dtype(node.output_dtype))},
                                {"keras_history", history}})}});
}

Json input_layer_entry(const std::string& name, const Json& batch_shape, const std::string& dtype,
                       KerasFlavor flavor) {
  Json config = Json::object();
  config.set(flavor == KerasFlavor::keras3 ? "batch_shape" : "batch_input_shape", batch_shape);
  config.set("dtype", Json(dtype));
  config.set("sparse", Json(false));
  config.set("ragged", Json(false));
  config.set("name", Json(name));
  if (flavor == KerasFlavor::keras3) config.set("optional", Json(false));
  Json j = Json::object();
  if (flavor == KerasFlavor::keras3) j.set("module", Json("keras.layers"));
  j.set("class_name", Json("InputLayer"));
  j.set("config", config);
  if (flavor == KerasFlavor::keras3) j.set("registered_name", Json());
  j.set("name", Json(name));
  j.set("inbound_nodes", Json::array());
  return j;
}

Json vectorizer_entry(const TextVectorization& v, const std::string& input_name, const std::string& where) {
  const TextVectorizationOptions& o = v.options();
  LOOM_CHECK(o.padding == "post" && o.truncating == "post" && !o.strip_html_breaks,
             "{}: the vectorizer pads '{}', truncates '{}' and {} HTML line breaks; Keras's "
             "TextVectorization pads and truncates at the end ('post') and keeps line breaks, so "
             "its predictions would differ (train with padding and truncating 'post' and "
             "strip_html_breaks off)",
             where, o.padding, o.truncating, o.strip_html_breaks ? "strips" : "keeps");
  LOOM_CHECK(o.output_sequence_length > 0,
             "{}: the vectorizer has no output_sequence_length; Keras's model needs a fixed length", where);
  Json config = Json::object();
  config.set("name", Json("text_vectorization"));
  config.set("trainable", Json(true));
  config.set("dtype", keras_object("keras", "DTypePolicy", Json::object({{"name", Json("float32")}})));
  config.set("max_tokens", o.max_tokens > 0 ? Json(static_cast<long long>(o.max_tokens)) : Json());
  config.set("standardize", o.standardize == "none" ? Json() : Json(o.standardize));
  config.set("split", Json(o.split));
  config.set("ngrams", Json());
  config.set("output_mode", Json("int"));
  config.set("output_sequence_length", Json(static_cast<long long>(o.output_sequence_length)));
  config.set("pad_to_max_tokens", Json(false));
  config.set("sparse", Json(false));
  config.set("ragged", Json(false));
  config.set("vocabulary", Json());
  config.set("idf_weights", Json());
  config.set("encoding", Json("utf-8"));
  config.set("vocabulary_size", Json(static_cast<long long>(v.vocabulary_size())));
  Json text = Json::object(
      {{"class_name", Json("__keras_tensor__")},
       {"config", Json::object({{"shape", Json::array({Json(), Json(1LL)})},
                                {"dtype", Json("string")},
                                {"keras_history", Json::array({Json(input_name), Json(0LL), Json(0LL)})}})}});
  Json j = keras_object("keras.layers", "TextVectorization", config);
  j.set("build_config", Json::object({{"input_shape", Json::array({Json(), Json(1LL)})}}));
  j.set("name", Json("text_vectorization"));
  j.set("inbound_nodes", Json::array({Json::object({{"args", Json::array({text})}, {"kwargs", Json::object()}})}));
  return j;
}

// One layer's entry with all its calls.
Json layer_entry(const Graph& g, const ExportNames& names, int64_t first, KerasFlavor flavor,
                 bool batch_unknown, const std::string& where) {
  const LayerPtr& layer = g.nodes[first].layer;
  const std::string lwhere = fmt::format("{}: layer '{}' ({})", where, layer->name(), layer->type_name());
  const bool list_input = layer->type_name() == "Concatenate";
  Json inbound = Json::array();
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (g.nodes[n].layer != layer) continue;
    Json args = Json::array();
    for (const auto& [k, t] : g.nodes[n].inputs) args.push_back(keras_tensor(g, names, k, t, flavor, batch_unknown));
    LOOM_CHECK(list_input || args.size() == 1, "{}: a call with {} inputs cannot be written for Keras",
               lwhere, args.size());
    if (flavor == KerasFlavor::keras2) {
      inbound.push_back(args);
    } else {
      Json a = list_input ? Json::array({args}) : args;
      inbound.push_back(Json::object({{"args", a}, {"kwargs", Json::object()}}));
    }
  }
  Json j = Json::object();
  if (flavor == KerasFlavor::keras3) j.set("module", Json("keras.layers"));
  j.set("class_name", Json(layer->type_name()));
  j.set("config", layer_config(*layer, flavor, lwhere));
  if (flavor == KerasFlavor::keras3) {
    j.set("registered_name", Json());
    const std::vector<Shape>& in = g.nodes[first].input_shapes;
    Json shapes = Json::array();
    for (const Shape& s : in) shapes.push_back(shape_json(s, batch_unknown));
    j.set("build_config", Json::object({{"input_shape", list_input ? shapes : shapes.at(0)}}));
  }
  j.set("name", Json(layer->name()));
  j.set("inbound_nodes", inbound);
  return j;
}

// [name, node, index] refs of the model's inputs or outputs; Keras 3 writes
// a single one bare.
Json endpoints(const std::vector<Json>& refs, KerasFlavor flavor) {
  if (flavor == KerasFlavor::keras3 && refs.size() == 1) return refs[0];
  Json j = Json::array();
  for (const Json& r : refs) j.push_back(r);
  return j;
}

}  // namespace

KerasExport export_keras_config(const Model& model, KerasFlavor flavor, const TextVectorization* vectorizer) {
  const std::string where = fmt::format("Keras export of model '{}'", model.name());
  LOOM_CHECK(!vectorizer || flavor == KerasFlavor::keras3,
             "{}: a TextVectorization can only be written to a Keras 3 .keras archive", where);
  const Graph g = read_graph(model, where);
  bool batch_unknown = true;
  size_t n_inputs = 0;
  for (const GraphNode& n : g.nodes) {
    if (n.layer) continue;
    ++n_inputs;
    if (n.output_shapes[0][0] > 0) batch_unknown = false;
  }
  if (vectorizer) {
    const GraphNode& in = g.nodes[0];
    LOOM_CHECK(n_inputs == 1 && in.output_dtype == DType::i32 && in.output_shapes[0].size() == 2 &&
                   in.output_shapes[0][1] == vectorizer->options().output_sequence_length,
               "{}: with a vectorizer the model must take one (N, {}) int32 input of token ids",
               where, vectorizer->options().output_sequence_length);
  }
  ExportNames names;
  for (const GraphNode& n : g.nodes)
    names.of_node.push_back(n.layer ? n.layer->name() : (vectorizer ? "text_vectorization" : n.input_name));

  KerasExport out;
  Json layers = Json::array();
  std::map<std::string, int> used;
  auto add_path = [&](const std::string& name, const std::string& cls) {
    std::string snake = keras_snake_case(cls);
    auto [it, first] = used.emplace(snake, 0);
    if (!first) snake += fmt::format("_{}", ++it->second);
    out.all_object_paths.push_back("layers/" + snake);
    out.layer_names.push_back(name);
    return "layers/" + snake;
  };
  for (int64_t n : export_order(g)) {
    const GraphNode& node = g.nodes[n];
    if (node.layer) {
      layers.push_back(layer_entry(g, names, n, flavor, batch_unknown, where));
      out.object_paths.emplace_back(node.layer->name(), add_path(node.layer->name(), node.layer->type_name()));
    } else if (vectorizer) {
      layers.push_back(input_layer_entry("text", Json::array({Json(), Json(1LL)}), "string", flavor));
      add_path("text", "InputLayer");
      layers.push_back(vectorizer_entry(*vectorizer, "text", where));
      out.vectorizer_object_path = add_path("text_vectorization", "TextVectorization");
    } else {
      layers.push_back(input_layer_entry(node.input_name, shape_json(node.output_shapes[0], batch_unknown),
                                         keras_dtype(node.output_dtype), flavor));
      add_path(node.input_name, "InputLayer");
    }
  }
  auto plain_ref = [](const std::string& name, int64_t node, int64_t t) {
    return Json::array({Json(name), Json(static_cast<long long>(node)), Json(static_cast<long long>(t))});
  };
  std::vector<Json> ins, outs;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (!g.nodes[n].layer) ins.push_back(plain_ref(vectorizer ? "text" : g.nodes[n].input_name, 0, 0));
  for (const auto& [n, t] : g.outputs) outs.push_back(plain_ref(names.of_node[n], g.nodes[n].call_index, t));

  Json config = Json::object({{"name", Json(model.name())}, {"trainable", Json(true)}, {"layers", layers}});
  config.set("input_layers", endpoints(ins, flavor));
  config.set("output_layers", endpoints(outs, flavor));
  if (flavor == KerasFlavor::keras3) {
    out.config = Json::object({{"module", Json("keras.src.models.functional")},
                               {"class_name", Json("Functional")},
                               {"config", config},
                               {"registered_name", Json("Functional")},
                               {"build_config", Json::object({{"input_shape", Json()}})}});
  } else {
    out.config = Json::object({{"class_name", Json("Functional")}, {"config", config}});
  }
  return out;
}

}  // namespace loom::keras
