// Layer: the Keras-shaped building block.
//
// A layer owns named parameters (created lazily by build() from the first
// input shapes), maps input tensors to output tensors in call(), and may
// consume and produce masks:
//   - masks travel beside tensors (one per tensor, undefined = no mask),
//     shape (B, T) of 0/1; the layers in layers/ produce them in the layer's
//     float dtype and accept any dtype (f32, f64, i32, i64);
//   - a layer that supports_masking() receives its inputs' masks in call();
//     one that does not and receives a mask throws (Keras behaviour);
//   - compute_mask() gives the masks of the outputs (default: a masking
//     layer passes its first input's mask on, others produce none).
// The `training` flag is passed down to every sublayer.
//
// Dtype: a layer creates its weights in its dtype(), which is set_dtype()'s
// value when given (Keras `dtype=`), else the dtype of the first floating
// input it is built from, else f32 (integer inputs, e.g. Embedding ids).
// Floating inputs of another dtype are cast to the layer's dtype (Keras
// autocast), so an f64 layer is built simply by calling it on f64 inputs.
//
// Layers run eagerly on Tensors, and symbolically on SymbolicTensors to
// build a functional Model (layers/training/model.h):
//   auto x = Input({80}, DType::i32);
//   auto h = Dense::make({.units = 8})(x);   // make() returns a LayerHandle
//   auto y = (*some_layer_ptr)(h);           // any LayerPtr, via operator*
#pragma once

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "loom/autograd/ops.h"
#include "loom/autograd/parameter.h"
#include "loom/autograd/tensor.h"
#include "loom/layers/precision_policy.h"

namespace loom {

class Layer;
using LayerPtr = std::shared_ptr<Layer>;

// A layer's configuration as Keras would serialize it: plain values by name.
using ConfigValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>>;
using Config = std::map<std::string, ConfigValue>;

// Per-call settings passed down the layer tree.
struct CallContext {
  bool training = false;
  // True during the sample run of a symbolic call (layers/training/model.h), whose
  // batch is a placeholder (batch 1 of zeros): a layer must not change its
  // persistent state then (a stateful RNN's carried states or fixed batch
  // size, running statistics).
  bool tracing = false;
  // Whether the call records its layers' losses (regularizer penalties,
  // add_loss) for losses() to return. Model::predict turns it off: a call
  // that records writes to the layers, so it must not run concurrently with
  // another call of the same layer; one that does not record reads the
  // layers only, and any number run at once (from any threads).
  bool record_losses = true;
};

// What a layer call returns: output tensors and their masks (same length;
// undefined masks mean none).
struct LayerOutput {
  std::vector<Tensor> tensors;
  std::vector<Tensor> masks;
  const Tensor& operator[](size_t i) const { return tensors.at(i); }
  size_t size() const { return tensors.size(); }
  // The single output (throws when there are several).
  const Tensor& tensor() const;
  const Tensor& mask() const;
};

// ---- symbolic tensors (the functional API, layers/training/model.h) ------------------------------
// A placeholder produced by Input() or by calling a layer on placeholders.
struct SymbolicNode;
struct SymbolicTensor {
  std::shared_ptr<SymbolicNode> node;  // the layer call that produced it
  int index = 0;                       // which output of that call
  Shape shape;                         // batch axis first, -1 when unknown
  DType dtype = DType::f32;
  bool has_mask = false;
};

// One layer call in a functional graph (or an Input when layer is null).
struct SymbolicNode {
  LayerPtr layer;                        // null for an Input
  std::vector<SymbolicTensor> inputs;
  std::vector<Shape> output_shapes;
  std::vector<bool> output_has_mask;
  DType dtype = DType::f32;              // of the first output
  std::vector<DType> output_dtypes;
  std::string input_name;                // for an Input
  int64_t id = 0;                        // creation order
  // A batch of concrete values (batch 1 unless the Input fixes it, unknown
  // extents 1, zeros) run through the graph when it is built: the outputs'
  // masks and dtypes are read from it, as Keras reads them from its trace.
  std::vector<Tensor> sample_outputs, sample_masks;
};

// What calling a layer on placeholders gives: one placeholder per output.
// Converts to a SymbolicTensor when there is exactly one output, so
//   SymbolicTensor y = Dense::make({.units = 4})(x);
// and indexes like a vector for layers with several outputs (return_state).
class SymbolicOutputs {
 public:
  SymbolicOutputs() = default;
  explicit SymbolicOutputs(std::vector<SymbolicTensor> ts) : tensors_(std::move(ts)) {}
  operator SymbolicTensor() const;  // throws unless size() == 1
  operator std::vector<SymbolicTensor>() const { return tensors_; }
  const SymbolicTensor& operator[](size_t i) const { return tensors_.at(i); }
  size_t size() const { return tensors_.size(); }
  auto begin() const { return tensors_.begin(); }
  auto end() const { return tensors_.end(); }
  const std::vector<SymbolicTensor>& tensors() const { return tensors_; }
  // The single output's shape (throws unless size() == 1).
  const Shape& shape() const { return static_cast<const SymbolicTensor&>(single()).shape; }

 private:
  const SymbolicTensor& single() const;
  std::vector<SymbolicTensor> tensors_;
};

// Names: an empty name gets a unique Keras-style default from the type name
// in snake case: "dense", "dense_1", ...; "GlobalAveragePooling1D" ->
// "global_average_pooling1d". Counters are per process (Keras: per session).
std::string default_layer_name(const std::string& type_name);
std::string to_snake_case(const std::string& type_name);
// The next unique name for `prefix`: "p", "p_1", ... (zero_based) or
// "p_1", "p_2", ... (Keras Input names "input_1", ...).
std::string unique_name(const std::string& prefix, bool zero_based = true);
// Restarts the default-name counters (Keras clear_session), for tests.
void reset_default_names();

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  // An empty name gets a unique Keras-style default: "dense", "dense_1", ...
  explicit Layer(std::string type_name, std::string name = "");
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  const std::string& type_name() const { return type_name_; }  // "Dense", "LSTM", ...
  bool built() const { return built_; }
  bool trainable() const { return trainable_; }
  // Freezing a layer freezes its parameters and sublayers (Keras semantics).
  void set_trainable(bool on);
  // The dtype of the layer's weights and floating outputs (see the top).
  DType dtype() const { return dtype_; }
  // Fixes the dtype (Keras `dtype=`); only before the layer is built.
  void set_dtype(DType dtype);
  // The mixed-precision policy (layers/precision_policy.h): the global
  // policy when the layer was made, unless set here ("float32",
  // "mixed_bfloat16", "mixed_float16"). Calls run their products in its
  // compute precision; the weights stay in dtype().
  const DTypePolicy& dtype_policy() const { return policy_; }
  // (A wrapper, Bidirectional, sets its wrapped layers' too.)
  virtual void set_dtype_policy(const std::string& name);
  // Whether this layer or one of its sublayers computes in `compute` (a
  // mixed_float16 model, say, for loss scaling).
  bool computes_in(DType compute) const;
  // Shapes and dtypes the layer was built from (empty before build).
  const std::vector<Shape>& build_input_shapes() const { return build_shapes_; }
  const std::vector<DType>& build_input_dtypes() const { return build_dtypes_; }
  // "Dense 'dense_1'", for error messages.
  std::string describe() const;

  // ---- calling ----------------------------------------------------------------
  // Builds on first use, checks masks, runs call_with_masks() (call() and
  // compute_mask()).
  LayerOutput operator()(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks = {},
                         const CallContext& ctx = {});
  Tensor operator()(const Tensor& input, bool training = false);
  LayerOutput forward(const Tensor& input, const Tensor& mask, bool training);
  // Symbolic calls (functional API): same as call_symbolic(shared_from_this(), ...).
  // The layer must be owned by a shared_ptr (make(), std::make_shared).
  SymbolicOutputs operator()(const SymbolicTensor& input);
  SymbolicOutputs operator()(const std::vector<SymbolicTensor>& inputs);
  SymbolicOutputs operator()(const SymbolicOutputs& inputs);
  // Builds from these shapes/dtypes unless built already (what the first
  // call does; exposed for symbolic calls and deserialization).
  void ensure_built(const std::vector<Shape>& input_shapes, const std::vector<DType>& input_dtypes);

  // ---- what subclasses implement ---------------------------------------------------
  // Creates parameters from the input shapes (batch axis included, -1 when unknown).
  virtual void build(const std::vector<Shape>& input_shapes) {}
  virtual std::vector<Tensor> call(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks, const CallContext& ctx) = 0;
  virtual bool supports_masking() const { return false; }
  virtual std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& masks) const;
  // The outputs and their masks in one step: call() then compute_mask().
  // Containers whose output masks come out of the run itself (Model)
  // override this, so no call leaves its masks behind in the layer.
  virtual LayerOutput call_with_masks(const std::vector<Tensor>& inputs,
                                      const std::vector<Tensor>& masks, const CallContext& ctx);
  // Output shapes for given input shapes (-1 for an unknown extent).
  virtual std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const = 0;
  // Hyper-parameters for summary() and saving (the name, dtype and trainable
  // flag are stored by the caller). make_layer(type_name(), config(), name)
  // must rebuild an equivalent layer (layers/layer_factory.h).
  virtual Config config() const { return {}; }
  // Whether floating inputs are cast to dtype() before call() (Keras
  // autocast); containers (models) pass inputs on untouched.
  virtual bool autocast_inputs() const { return true; }

  // ---- parameters -------------------------------------------------------------------------
  // Own parameters then sublayers', in creation order, each once.
  std::vector<ParameterPtr> parameters() const;
  std::vector<ParameterPtr> trainable_parameters() const;
  std::vector<ParameterPtr> non_trainable_parameters() const;
  int64_t count_params() const;
  // Moves every parameter (own and sublayers') to `device` in place: the
  // Parameter objects stay, their values become copies on `device`, and
  // every later call runs there (GPU: cuda:0). As with PyTorch's
  // Module.to, move a model before creating its optimizer. Returns *this.
  Layer& to(Device device);
  // The device of the first parameter (the CPU for a layer without any).
  Device device() const;
  // Keras get_weights/set_weights: parameter values in parameters() order.
  // set_weights copies into the existing tensors (optimizers keep their
  // handles) and throws naming the parameter on a count or shape mismatch.
  std::vector<Tensor> get_weights() const;
  void set_weights(const std::vector<Tensor>& values);
  // Extra losses (regularizers) from the last call, summed into the training
  // loss; own then sublayers'.
  virtual std::vector<Tensor> losses() const;
  // Resets per-sequence state (stateful RNNs); recurses into sublayers.
  virtual void reset_states();
  // Reseeds the layer's own random generators (dropout) from `source` and
  // recurses into sublayers, so that one seed fixes a whole model's noise.
  virtual void reseed(Generator& source);

 protected:
  // Creates "<layer name>/<name>" with the given initial value. A frozen
  // layer's weights start non-trainable; `trainable` = false marks a weight
  // that is never trained (set_trainable(true) leaves it frozen).
  ParameterPtr add_weight(const std::string& name, Tensor initial, bool trainable = true);
  // Registers a sublayer whose parameters this layer owns (once each).
  void add_sublayer(std::shared_ptr<Layer> layer);
  const std::vector<std::shared_ptr<Layer>>& sublayers() const { return sublayers_; }
  void clear_sublayers() { sublayers_.clear(); }
  // Own parameters only.
  const std::vector<ParameterPtr>& own_parameters() const { return params_; }
  // Losses added during call() (cleared at the start of each call).
  void add_loss(const Tensor& loss);
  void mark_built() { built_ = true; }

 private:
  std::string type_name_;
  std::string name_;
  bool built_ = false;
  bool trainable_ = true;
  DType dtype_ = DType::f32;
  DTypePolicy policy_ = global_policy();
  bool dtype_fixed_ = false;
  std::vector<Shape> build_shapes_;
  std::vector<DType> build_dtypes_;
  std::vector<ParameterPtr> params_;
  std::vector<bool> declared_trainable_;  // per own parameter, as add_weight was told
  std::vector<std::shared_ptr<Layer>> sublayers_;
  std::vector<Tensor> call_losses_;
};

// Calls `layer` symbolically (builds the layer from the placeholders'
// shapes). Defined in layers/training/model.cpp.
std::vector<SymbolicTensor> call_symbolic(const LayerPtr& layer,
                                          const std::vector<SymbolicTensor>& inputs);

// A shared_ptr to a layer that can also be called, so that
//   auto y = Dense::make({.units = 4})(x);            // x a SymbolicTensor
//   Tensor t = Dense::make({.units = 4})(batch);      // eager
// work as in Keras. It converts to LayerPtr / std::shared_ptr<L> freely.
// Every layer's make() returns one; any other LayerPtr p calls as (*p)(x).
template <class L>
class LayerHandle : public std::shared_ptr<L> {
 public:
  LayerHandle() = default;
  LayerHandle(std::shared_ptr<L> p) : std::shared_ptr<L>(std::move(p)) {}  // NOLINT: implicit

  SymbolicOutputs operator()(const SymbolicTensor& x) const { return (**this)(x); }
  SymbolicOutputs operator()(const std::vector<SymbolicTensor>& xs) const { return (**this)(xs); }
  SymbolicOutputs operator()(const SymbolicOutputs& xs) const { return (**this)(xs); }
  Tensor operator()(const Tensor& x, bool training = false) const { return (**this)(x, training); }
  LayerOutput operator()(const std::vector<Tensor>& xs, const std::vector<Tensor>& masks = {},
                         const CallContext& ctx = {}) const {
    return (**this)(xs, masks, ctx);
  }
};

}  // namespace loom
