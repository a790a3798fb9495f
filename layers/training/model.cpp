// The functional Model: Input placeholders, symbolic layer calls, the graph
// they form, running it with masks along its edges, and summary().
#include "loom/layers/training/model.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "loom/autograd/tape.h"

namespace loom {

namespace {

std::atomic<int64_t> g_node_ids{0};

// "(None, 80, 16)": Keras's way of printing a shape with unknown extents.
std::string keras_shape(const Shape& s) {
  std::vector<std::string> parts;
  for (int64_t d : s) parts.push_back(d < 0 ? "None" : std::to_string(d));
  if (parts.size() == 1) return fmt::format("({},)", parts[0]);
  return fmt::format("({})", fmt::join(parts, ", "));
}

// Concrete extents for a sample batch: unknown ones become 1.
Shape sample_shape(const Shape& s) {
  Shape out = s;
  for (int64_t& d : out)
    if (d < 0) d = 1;
  return out;
}

// Whether concrete shape `got` fits symbolic `want` (-1 matches anything).
bool shape_fits(const Shape& want, const Shape& got) {
  if (want.size() != got.size()) return false;
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] >= 0 && want[i] != got[i]) return false;
  return true;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace

// ---- placeholders -------------------------------------------------------------------------

SymbolicTensor Input(const Shape& shape, DType dtype, const std::string& name, int64_t batch_size) {
  for (int64_t d : shape)
    LOOM_CHECK(d == -1 || d > 0, "Input: extents must be positive or -1 (unknown), got {}",
               shape_str(shape));
  LOOM_CHECK(batch_size == -1 || batch_size > 0,
             "Input: batch_size must be positive or -1 (unknown), got {}", batch_size);
  auto node = std::make_shared<SymbolicNode>();
  node->input_name = name.empty() ? unique_name("input", /*zero_based=*/false) : name;
  Shape full = shape;
  full.insert(full.begin(), batch_size);
  node->output_shapes = {full};
  node->output_has_mask = {false};
  node->dtype = dtype;
  node->output_dtypes = {dtype};
  node->id = g_node_ids++;
  node->sample_outputs = {Tensor::zeros(sample_shape(full), dtype)};
  node->sample_masks = {Tensor()};
  return SymbolicTensor{node, 0, full, dtype, false};
}

std::vector<SymbolicTensor> call_symbolic(const LayerPtr& layer,
                                          const std::vector<SymbolicTensor>& inputs) {
  LOOM_CHECK(layer != nullptr, "call_symbolic: the layer is null");
  LOOM_CHECK(!inputs.empty(), "{}: called with no symbolic inputs", layer->describe());
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  std::vector<Tensor> xs, ms;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SymbolicTensor& in = inputs[i];
    LOOM_CHECK(in.node != nullptr && in.index >= 0 &&
                   in.index < static_cast<int>(in.node->sample_outputs.size()),
               "{}: symbolic input {} was not produced by Input() or a layer call",
               layer->describe(), i);
    if (in.has_mask && !layer->supports_masking())
      fail("{} does not support masking, but input {} of shape {} carries a mask; put the layer "
           "after one that consumes the mask (an RNN without return_sequences, a global pooling "
           "layer)",
           layer->describe(), i, keras_shape(in.shape));
    shapes.push_back(in.shape);
    dtypes.push_back(in.dtype);
    xs.push_back(in.node->sample_outputs[in.index]);
    ms.push_back(in.node->sample_masks[in.index]);
  }
  layer->ensure_built(shapes, dtypes);
  std::vector<Shape> out_shapes = layer->compute_output_shape(shapes);

  LayerOutput sample;
  {
    NoGradGuard no_grad;
    CallContext ctx;
    ctx.tracing = true;  // stateful layers keep their state (see CallContext)
    sample = (*layer)(xs, ms, ctx);
  }

  LOOM_CHECK(sample.tensors.size() == out_shapes.size(),
             "{}: compute_output_shape gives {} outputs but the call returned {}",
             layer->describe(), out_shapes.size(), sample.tensors.size());
  auto node = std::make_shared<SymbolicNode>();
  node->layer = layer;
  node->inputs = inputs;
  node->output_shapes = out_shapes;
  node->id = g_node_ids++;
  std::vector<SymbolicTensor> outs;
  for (size_t k = 0; k < out_shapes.size(); ++k) {
    const Tensor& t = sample.tensors[k];
    LOOM_CHECK(shape_fits(out_shapes[k], t.shape()),
               "{}: compute_output_shape gives output {} the shape {} but calling the layer gave "
               "{} (inputs {})",
               layer->describe(), k, keras_shape(out_shapes[k]), shape_str(t.shape()),
               fmt::join([&] {
                 std::vector<std::string> v;
                 for (auto& s : shapes) v.push_back(keras_shape(s));
                 return v;
               }(), ", "));
    const bool has_mask = sample.masks[k].defined();
    node->output_has_mask.push_back(has_mask);
    node->output_dtypes.push_back(t.dtype());
    node->sample_outputs.push_back(t.detach());
    node->sample_masks.push_back(has_mask ? sample.masks[k].detach() : Tensor());
  }
  node->dtype = node->output_dtypes.empty() ? DType::f32 : node->output_dtypes[0];
  for (size_t k = 0; k < out_shapes.size(); ++k)
    outs.push_back(SymbolicTensor{node, static_cast<int>(k), out_shapes[k], node->output_dtypes[k],
                                  node->output_has_mask[k]});
  return outs;
}

// ---- the graph ---------------------------------------------------------------------------

Model::Model(const std::string& type_name, const std::string& name) : Layer(type_name, name) {}

Model::Model(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs,
             const std::string& name)
    : Layer("Model", name) {
  set_graph(inputs, outputs);
  std::vector<Shape> shapes;
  std::vector<DType> dtypes;
  for (const SymbolicTensor& in : inputs_) {
    shapes.push_back(in.shape);
    dtypes.push_back(in.dtype);
  }
  ensure_built(shapes, dtypes);  // nothing to create: the layers are built
}

void Model::set_graph(const std::vector<SymbolicTensor>& inputs,
                      const std::vector<SymbolicTensor>& outputs) {
  LOOM_CHECK(!inputs.empty(), "{}: a model needs at least one input", describe());
  LOOM_CHECK(!outputs.empty(), "{}: a model needs at least one output", describe());
  std::set<const SymbolicNode*> input_nodes;
  std::vector<std::string> input_names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& n = inputs[i].node;
    LOOM_CHECK(n != nullptr, "{}: input {} is not a placeholder (use Input())", describe(), i);
    LOOM_CHECK(n->layer == nullptr,
               "{}: input {} is the output of layer '{}', not an Input() placeholder", describe(),
               i, n->layer->name());
    LOOM_CHECK(input_nodes.insert(n.get()).second, "{}: Input '{}' is listed twice", describe(),
               n->input_name);
    input_names.push_back(n->input_name);
  }
  // Depth-first from the outputs; a node goes after everything it reads.
  std::vector<std::shared_ptr<SymbolicNode>> order;
  std::set<const SymbolicNode*> done, active;
  std::function<void(const std::shared_ptr<SymbolicNode>&)> visit =
      [&](const std::shared_ptr<SymbolicNode>& n) {
        if (done.count(n.get())) return;
        if (n->layer == nullptr) {
          LOOM_CHECK(input_nodes.count(n.get()),
                     "{}: the outputs depend on Input '{}', which is not among the model's "
                     "inputs ({})",
                     describe(), n->input_name, fmt::join(input_names, ", "));
          done.insert(n.get());
          return;
        }
        LOOM_CHECK(active.insert(n.get()).second, "{}: the graph has a cycle through layer '{}'",
                   describe(), n->layer->name());
        for (const SymbolicTensor& in : n->inputs) {
          LOOM_CHECK(in.node != nullptr, "{}: layer '{}' has an input without a producer",
                     describe(), n->layer->name());
          visit(in.node);
        }
        active.erase(n.get());
        done.insert(n.get());
        order.push_back(n);
      };
  for (size_t i = 0; i < outputs.size(); ++i) {
    LOOM_CHECK(outputs[i].node != nullptr, "{}: output {} is not a symbolic tensor", describe(),
               i);
    visit(outputs[i].node);
  }
  // Unique layer names (parameters are named after their layers).
  std::map<std::string, const Layer*> by_name;
  for (const auto& n : order) {
    auto [it, fresh] = by_name.emplace(n->layer->name(), n->layer.get());
    LOOM_CHECK(fresh || it->second == n->layer.get(),
               "{}: two different layers are named '{}'; layer names must be unique in a model",
               describe(), n->layer->name());
    for (const auto& in : input_names)
      LOOM_CHECK(in != n->layer->name(), "{}: layer '{}' has the name of an Input", describe(),
                 in);
  }
  inputs_ = inputs;
  outputs_ = outputs;
  nodes_ = std::move(order);
  clear_sublayers();
  for (const auto& n : nodes_) add_sublayer(n->layer);
}

std::vector<Tensor> Model::call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                                const CallContext& ctx) {
  return call_with_masks(inputs, masks, ctx).tensors;
}

LayerOutput Model::call_with_masks(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks, const CallContext& ctx) {
  LOOM_CHECK(graph_built(), "{}: the model has no graph yet", describe());
  LOOM_CHECK(inputs.size() == inputs_.size(), "{}: expects {} inputs, got {}", describe(),
             inputs_.size(), inputs.size());
  std::map<const SymbolicNode*, LayerOutput> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SymbolicTensor& in = inputs_[i];
    LOOM_CHECK(shape_fits(in.shape, inputs[i].shape()),
               "{}: input {} ('{}') expects shape {}, got {}", describe(), i,
               in.node->input_name, keras_shape(in.shape), shape_str(inputs[i].shape()));
    LayerOutput v;
    v.tensors = {inputs[i]};
    v.masks = {i < masks.size() ? masks[i] : Tensor()};
    values[in.node.get()] = std::move(v);
  }
  auto lookup = [&](const SymbolicTensor& s) -> std::pair<Tensor, Tensor> {
    const LayerOutput& v = values.at(s.node.get());
    return {v.tensors.at(s.index), v.masks.at(s.index)};
  };
  for (const auto& node : nodes_) {
    std::vector<Tensor> xs, ms;
    for (const SymbolicTensor& s : node->inputs) {
      auto [x, m] = lookup(s);
      xs.push_back(x);
      ms.push_back(m);
    }
    LayerOutput out = (*node->layer)(xs, ms, ctx);
    LOOM_CHECK(out.tensors.size() == node->output_shapes.size(),
               "{}: layer '{}' returned {} outputs, but {} when the model was built", describe(),
               node->layer->name(), out.tensors.size(), node->output_shapes.size());
    values[node.get()] = std::move(out);
  }
  LayerOutput result;
  for (const SymbolicTensor& o : outputs_) {
    auto [x, m] = lookup(o);
    result.tensors.push_back(x);
    result.masks.push_back(m);
  }
  return result;
}

std::vector<Tensor> Model::compute_mask(const std::vector<Tensor>& inputs,
                                        const std::vector<Tensor>& masks) const {
  NoGradGuard no_grad;
  CallContext ctx;
  ctx.record_losses = false;
  // Inference without recording only reads the layers.
  return const_cast<Model*>(this)->call_with_masks(inputs, masks, ctx).masks;
}

std::vector<Shape> Model::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  LOOM_CHECK(graph_built(), "{}: the model has no graph yet", describe());
  LOOM_CHECK(input_shapes.size() == inputs_.size(), "{}: expects {} input shapes, got {}",
             describe(), inputs_.size(), input_shapes.size());
  std::map<const SymbolicNode*, std::vector<Shape>> shapes;
  for (size_t i = 0; i < inputs_.size(); ++i) shapes[inputs_[i].node.get()] = {input_shapes[i]};
  for (const auto& node : nodes_) {
    std::vector<Shape> in;
    for (const SymbolicTensor& s : node->inputs) in.push_back(shapes.at(s.node.get()).at(s.index));
    shapes[node.get()] = node->layer->compute_output_shape(in);
  }
  std::vector<Shape> out;
  for (const SymbolicTensor& o : outputs_) out.push_back(shapes.at(o.node.get()).at(o.index));
  return out;
}

std::vector<LayerPtr> Model::layers() const {
  std::vector<LayerPtr> out;
  for (const auto& n : nodes_)
    if (std::find(out.begin(), out.end(), n->layer) == out.end()) out.push_back(n->layer);
  return out;
}

LayerPtr Model::get_layer(const std::string& name) const {
  std::vector<std::string> names;
  for (const LayerPtr& l : layers()) {
    if (l->name() == name) return l;
    names.push_back(l->name());
  }
  fail("{}: no layer named '{}'; its layers are {}", describe(), name, fmt::join(names, ", "));
}

// ---- summary ----------------------------------------------------------------------------------

std::string Model::summary() const {
  LOOM_CHECK(graph_built(),
             "{}: the model has not been built yet; call it on a batch of data or give it an "
             "input shape before summary()",
             describe());
  const bool sequential = type_name() == "Sequential";
  // A chain (each call reads only the previous one's single output) needs
  // no "Connected to" column.
  bool chain = inputs_.size() == 1 && outputs_.size() == 1;
  for (size_t i = 0; chain && i < nodes_.size(); ++i) {
    const auto& n = nodes_[i];
    const SymbolicNode* prev = i == 0 ? inputs_[0].node.get() : nodes_[i - 1].get();
    chain = n->inputs.size() == 1 && n->inputs[0].node.get() == prev;
  }
  // Call index of each node among its layer's calls, for "name[call][output]".
  std::map<const SymbolicNode*, int> call_index;
  std::map<const Layer*, int> calls;
  for (const auto& n : nodes_) call_index[n.get()] = calls[n->layer.get()]++;
  auto ref = [&](const SymbolicTensor& s) {
    if (s.node->layer == nullptr) return fmt::format("{}[0][0]", s.node->input_name);
    return fmt::format("{}[{}][{}]", s.node->layer->name(), call_index[s.node.get()], s.index);
  };
  auto shapes_str = [](const std::vector<Shape>& shapes, bool as_list) {
    std::vector<std::string> parts;
    for (const Shape& s : shapes) parts.push_back(keras_shape(s));
    if (parts.size() == 1 && !as_list) return parts[0];
    return fmt::format("[{}]", fmt::join(parts, ", "));
  };

  struct Row {
    std::string layer, shape, params;
    std::vector<std::string> connected;
  };
  std::vector<Row> rows;
  if (!sequential)
    for (const SymbolicTensor& in : inputs_)
      rows.push_back({fmt::format("{} (InputLayer)", in.node->input_name),
                      shapes_str({in.shape}, true), "0", {}});
  for (const LayerPtr& l : layers()) {
    Row r;
    r.layer = fmt::format("{} ({})", l->name(), l->type_name());
    r.params = std::to_string(l->count_params());
    std::vector<const SymbolicNode*> mine;
    for (const auto& n : nodes_)
      if (n->layer == l) mine.push_back(n.get());
    bool same = true;
    for (const SymbolicNode* n : mine) same = same && n->output_shapes == mine[0]->output_shapes;
    r.shape = same ? shapes_str(mine[0]->output_shapes, false) : "multiple";
    for (const SymbolicNode* n : mine)
      for (const SymbolicTensor& s : n->inputs) r.connected.push_back(ref(s));
    rows.push_back(r);
  }

  const bool show_connected = !sequential && !chain;
  size_t w0 = std::string("Layer (type)").size(), w1 = std::string("Output Shape").size(),
         w2 = std::string("Param #").size(), w3 = std::string("Connected to").size();
  for (const Row& r : rows) {
    w0 = std::max(w0, r.layer.size());
    w1 = std::max(w1, r.shape.size());
    w2 = std::max(w2, r.params.size());
    for (const auto& c : r.connected) w3 = std::max(w3, c.size());
  }
  w0 = std::max<size_t>(w0 + 2, 28);
  w1 = std::max<size_t>(w1 + 2, 26);
  w2 = std::max<size_t>(w2 + 2, 11);
  w3 += 1;
  const size_t total_width = 1 + w0 + w1 + w2 + (show_connected ? w3 : 0);
  auto line = [&](const std::string& a, const std::string& b, const std::string& c,
                  const std::string& d) {
    std::string s = fmt::format(" {:<{}}{:<{}}{:<{}}", a, w0, b, w1, c, w2);
    if (show_connected) s += fmt::format("{:<{}}", d, w3);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };

  std::string out = fmt::format("Model: \"{}\"\n", name());
  out += std::string(total_width, '_') + "\n";
  out += line("Layer (type)", "Output Shape", "Param #", "Connected to");
  out += std::string(total_width, '=') + "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out += line(r.layer, r.shape, r.params, r.connected.empty() ? "" : r.connected[0]);
    for (size_t k = 1; k < r.connected.size(); ++k) out += line("", "", "", r.connected[k]);
    if (i + 1 < rows.size()) out += "\n";
  }
  int64_t total = 0, trainable = 0;
  for (const ParameterPtr& p : parameters()) {
    total += p->value.numel();
    if (p->trainable) trainable += p->value.numel();
  }
  out += std::string(total_width, '=') + "\n";
  out += fmt::format("Total params: {}\n", with_commas(total));
  out += fmt::format("Trainable params: {}\n", with_commas(trainable));
  out += fmt::format("Non-trainable params: {}\n", with_commas(total - trainable));
  out += std::string(total_width, '_') + "\n";
  return out;
}

}  // namespace loom
