// Sequential: a chain of single-output layers, built into a functional
// graph from the first batch (or up front from a declared input shape).
#include "loom/layers/training/model.h"

namespace loom {

Sequential::Sequential(std::vector<LayerPtr> layers, const std::string& name)
    : Model("Sequential", name) {
  for (auto& l : layers) add(std::move(l));
}

Sequential::Sequential(const Shape& input_shape, DType input_dtype, std::vector<LayerPtr> layers,
                       const std::string& name)
    : Model("Sequential", name) {
  for (auto& l : layers) add(std::move(l));
  declared_input_ = true;
  Shape full = input_shape;
  full.insert(full.begin(), -1);
  ensure_built({full}, {input_dtype});  // runs build(): the graph, every layer's weights
}

void Sequential::add(LayerPtr layer) {
  LOOM_CHECK(layer != nullptr, "{}: add() got a null layer", describe());
  for (const LayerPtr& l : layers_) {
    LOOM_CHECK(l != layer, "{}: layer '{}' was added twice", describe(), layer->name());
    LOOM_CHECK(l->name() != layer->name(),
               "{}: a layer named '{}' is already in the model; layer names must be unique",
               describe(), layer->name());
  }
  if (graph_built()) {
    // Extend the graph now so that the new layer is built like the others.
    std::vector<SymbolicTensor> out = call_symbolic(layer, outputs_);
    LOOM_CHECK(out.size() == 1,
               "{}: layer '{}' returns {} outputs; every layer of a Sequential model must have "
               "one",
               describe(), layer->name(), out.size());
    layers_.push_back(layer);
    set_graph(inputs_, out);
  } else {
    layers_.push_back(layer);
    add_sublayer(layer);
  }
}

void Sequential::build_graph(const Shape& per_sample, DType dtype) {
  std::vector<SymbolicTensor> x = {Input(per_sample, dtype, name() + "_input")};
  const std::vector<SymbolicTensor> in = x;
  for (const LayerPtr& l : layers_) {
    x = call_symbolic(l, x);
    LOOM_CHECK(x.size() == 1,
               "{}: layer '{}' returns {} outputs; every layer of a Sequential model must have "
               "one",
               describe(), l->name(), x.size());
  }
  set_graph(in, x);
}

void Sequential::build(const std::vector<Shape>& input_shapes) {
  LOOM_CHECK(input_shapes.size() == 1, "{}: a Sequential model takes 1 input, got {}", describe(),
             input_shapes.size());
  const Shape& s = input_shapes[0];
  LOOM_CHECK(!s.empty(), "{}: the input needs a batch axis, got shape {}", describe(),
             shape_str(s));
  Shape per_sample(s.begin() + 1, s.end());
  DType dtype = build_input_dtypes().empty() ? DType::f32 : build_input_dtypes()[0];
  build_graph(per_sample, dtype);
}

LayerOutput Sequential::call_with_masks(const std::vector<Tensor>& inputs,
                                        const std::vector<Tensor>& masks, const CallContext& ctx) {
  LOOM_CHECK(inputs.size() == 1, "{}: a Sequential model takes 1 input, got {}", describe(),
             inputs.size());
  const Shape& got = inputs[0].shape();
  const Shape& want = inputs_.at(0).shape;
  // Keras relaxes the inferred input shape when later data differs (another
  // sequence length): the differing extents become unknown.
  if (!declared_input_ && got.size() == want.size()) {
    Shape relaxed = want;
    bool changed = false;
    for (size_t i = 1; i < want.size(); ++i)
      if (want[i] >= 0 && want[i] != got[i]) {
        relaxed[i] = -1;
        changed = true;
      }
    if (changed) build_graph(Shape(relaxed.begin() + 1, relaxed.end()), inputs_[0].dtype);
  }
  return Model::call_with_masks(inputs, masks, ctx);
}

std::vector<Shape> Sequential::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  if (graph_built()) return Model::compute_output_shape(input_shapes);
  std::vector<Shape> shapes = input_shapes;
  for (const LayerPtr& l : layers_) shapes = l->compute_output_shape(shapes);
  return shapes;
}

std::string Sequential::summary() const {
  LOOM_CHECK(graph_built() || layers_.empty(),
             "{}: the model has not been built yet; call it on a batch of data or give it an "
             "input shape (Sequential(input_shape, dtype, layers)) before summary()",
             describe());
  LOOM_CHECK(graph_built(), "{}: the model has no layers and no input yet", describe());
  return Model::summary();
}

}  // namespace loom
