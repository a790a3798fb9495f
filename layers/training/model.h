// Models: Sequential and the functional Model (a graph of layer calls from
// Input()s to outputs), with Keras's compile / fit / evaluate / predict and
// saving.
//
//   auto tokens = Input({80}, DType::i32);                  // (B, 80)
//   auto x = Embedding::make({.input_dim = 20000, .output_dim = 128,
//                             .mask_zero = true})(tokens);  // (B, 80, 128)
//   x = GlobalAveragePooling1D::make()(x);                  // (B, 128)
//   auto out = Dense::make({.units = 1, .activation = "sigmoid"})(x);
//   Model model({tokens}, {out});
//   model.compile({.optimizer = "adam", .loss = "binary_crossentropy",
//                  .metrics = {"accuracy"}});
//   History h = model.fit(x_train, y_train, {.batch_size = 32, .epochs = 3});
//
// Every layer's make() returns a LayerHandle (layers/layer.h): a shared_ptr
// that can be called on placeholders as above, or eagerly on Tensors. Any
// other LayerPtr p is called as (*p)(x), or with call_symbolic(p, {x, ...}).
// A call returns SymbolicOutputs, which converts to a SymbolicTensor for
// single-output layers and indexes like a vector otherwise (return_state).
//
//   Sequential seq({Embedding::make({.input_dim = 1000, .output_dim = 16}),
//                   GlobalAveragePooling1D::make(), Dense::make({.units = 1})});
//   Tensor y = seq(ids);        // builds on the first batch
//   std::cout << seq.summary();
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loom/distributed/gradient_reducer.h"
#include "loom/layers/layer.h"
#include "loom/layers/training/backup.h"
#include "loom/optim/loss_scale.h"

namespace loom {

class Json;  // layers/saving/json.h: the architecture is written and read there

class Optimizer;  // optim/optimizer.h
class Callback;   // layers/training/callbacks.h

// ---- symbolic tensors (the functional API) --------------------------------------------
// SymbolicTensor, SymbolicNode, SymbolicOutputs and call_symbolic() are
// declared in layers/layer.h (layers call themselves on placeholders).
//
// Calling a layer on placeholders (call_symbolic, or layer(x) through a
// LayerHandle or (*layer_ptr)(x)) builds it from their shapes, then runs it
// once on a sample batch (batch 1, or the Input's fixed batch_size; unknown
// extents 1; zeros) to learn which outputs carry masks and their dtypes,
// and checks that compute_output_shape agrees with what call() produced.
// That sample run has CallContext::tracing set: stateful layers must leave
// their state alone. A layer that does not support masking called on a
// placeholder that carries a mask throws, as in an eager call.

// A model input of per-sample shape `shape` (the batch axis is added; -1
// marks an unknown extent, e.g. {-1} for variable-length sequences).
// Default names are Keras's "input_1", "input_2", ... batch_size fixes the
// batch extent (stateful RNNs need it); -1 leaves it unknown.
SymbolicTensor Input(const Shape& shape, DType dtype = DType::f32, const std::string& name = "",
                     int64_t batch_size = -1);

// ---- training configuration --------------------------------------------------------------
struct CompileOptions {
  std::string optimizer = "rmsprop";           // by name with defaults, or ...
  std::shared_ptr<Optimizer> optimizer_object;  // ... an instance
  // "binary_crossentropy", "binary_crossentropy_from_logits",
  // "sparse_categorical_crossentropy", "sparse_categorical_crossentropy_from_logits",
  // "mse" / "mean_squared_error".
  std::string loss;
  // "accuracy"/"acc" (binary or sparse categorical, chosen from the loss as
  // Keras does), "binary_accuracy", "sparse_categorical_accuracy",
  // "categorical_accuracy", "auc", "precision", "recall". With a *_from_logits
  // loss, metrics see probabilities (sigmoid / softmax of the outputs).
  std::vector<std::string> metrics;
};

// Whether fit() trains data-parallel across the processes of an mpirun job
// (layers/training/data_parallel.h, docs/DISTRIBUTED.md).
enum class DataParallelMode {
  automatic,  // when launched by mpirun (or srun, ...) with more than one process
  on,         // always join the process group (also with one process)
  off,        // never: this process trains alone, even inside an mpirun job
};

struct FitOptions {
  int64_t batch_size = 32;
  int epochs = 1;                                // the last epoch's number, as Keras
  int initial_epoch = 0;                         // resume: the first epoch to run
  double validation_split = 0.0;                 // last fraction of x/y, as Keras
  std::vector<Tensor> validation_x;              // or explicit validation data
  Tensor validation_y;
  bool shuffle = true;
  // Shuffling of epoch e draws from (seed, e) and the dropout masks of its
  // step s from (seed, e, s), so a run resumed with initial_epoch (or from a
  // backup, mid-epoch) repeats what an uninterrupted run would have done.
  uint64_t seed = 0;
  std::map<int64_t, double> class_weight;        // label -> weight
  std::vector<std::shared_ptr<Callback>> callbacks;
  int verbose = 1;  // 0 silent, 1 progress bar (one line per epoch when not a terminal)
  // Crash-safe backups (layers/training/backup.h): with a path, fit() first
  // resumes from the backup there if one exists (taking its epoch, step,
  // seed and settings; the data must be the same), then writes one at every
  // epoch end and every backup.save_every_steps batches.
  BackupOptions backup;
  // Under mpirun with P processes, each global batch of batch_size is split
  // across the ranks and gradients are summed over them: the weights are
  // those of one process training with batch_size. Rank 0 alone prints
  // progress and writes backups; logs are over all ranks.
  DataParallelMode data_parallel = DataParallelMode::automatic;
  // How gradients are reduced then: bucket size, overlap with backward.
  distributed::ReducerOptions reducer;
};

// Per-epoch metric values by name ("loss", "accuracy", "val_loss", ...).
struct History {
  std::map<std::string, std::vector<double>> history;
  int epochs_run = 0;
};

class Model : public Layer {
 public:
  // A functional model from placeholders to outputs. Every output must
  // depend only on `inputs` (Input() placeholders); layer names must be
  // unique within the model. The graph's layers become sublayers, so
  // parameters() lists them all (topological order, each once).
  Model(const std::vector<SymbolicTensor>& inputs, const std::vector<SymbolicTensor>& outputs,
        const std::string& name = "");

  // ---- running ---------------------------------------------------------------------------
  // Runs the graph: each layer call gets the tensors and masks of its input
  // placeholders (Keras mask propagation along graph edges); `masks` are the
  // model inputs' masks (usually none). Inputs must match the Input shapes on
  // every known extent.
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  // The outputs with their masks, from one run of the graph (a model
  // nested in another passes them on).
  LayerOutput call_with_masks(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                              const CallContext& ctx) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  // The output masks for these inputs: runs the graph in inference mode
  // without recording (as Keras's Functional.compute_mask does).
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override;
  bool supports_masking() const override { return true; }
  bool autocast_inputs() const override { return false; }
  // Every layer in the model, in topological order (Input placeholders are
  // not layers here; summary() shows them as InputLayer rows).
  virtual std::vector<LayerPtr> layers() const;
  // Throws naming the model and listing its layers when there is none.
  LayerPtr get_layer(const std::string& name) const;
  // Keras-style table: Layer (type) | Output Shape | Param # (| Connected to,
  // for graphs that are not a simple chain), then Total / Trainable /
  // Non-trainable params. Output shapes print None for the batch.
  virtual std::string summary() const;
  const std::vector<SymbolicTensor>& inputs() const { return inputs_; }
  const std::vector<SymbolicTensor>& outputs() const { return outputs_; }

  // ---- architecture (layers/saving/architecture.cpp) -----------------------------------------------
  // The model's structure without weights, as JSON:
  //   {"format": "loom-architecture", "version": 1, "class_name": "Model"|"Sequential",
  //    "name": ..., "trainable": ...,
  //    "layers": [{"class_name": "Dense", "name": "dense", "config": {...},
  //                "dtype": "f32" (built layers only), "trainable": true}, ...],
  //    Model:      "inputs": [{"name", "shape" (per sample), "dtype", "batch_size"}],
  //                "nodes": [{"layer": name, "inputs": [ref, ...]}] in call order,
  //                "outputs": [ref, ...]  with ref {"input": i} or {"node": k, "index": j}
  //    Sequential: "input": {"shape", "dtype"} once built}
  // Layer configs are Layer::config() (ConfigValue -> JSON bool/number/string/
  // int array). A nested model's config is {"architecture": its JSON text}.
  Json to_architecture() const;
  std::string to_json(int indent = -1) const;
  // Rebuilds a model from to_architecture()/to_json(): layers come from
  // make_layer() (layers/layer_factory.h) and are built, with fresh weights
  // (load them by name afterwards). Throws loom::Error on malformed input.
  static std::shared_ptr<Model> from_architecture(const Json& architecture);
  static std::shared_ptr<Model> from_json(const std::string& text);
  Config config() const override;
  static LayerPtr from_config(const Config& config, const std::string& name);

  // ---- training (layers/training/fit.cpp) ----------------------------------------------------------
  void compile(const CompileOptions& options);
  History fit(const std::vector<Tensor>& x, const Tensor& y, const FitOptions& options = {});
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  // Loss and metrics by name.
  std::map<std::string, double> evaluate(const std::vector<Tensor>& x, const Tensor& y,
                                         int64_t batch_size = 32, int verbose = 0);
  std::map<std::string, double> evaluate(const Tensor& x, const Tensor& y,
                                         int64_t batch_size = 32, int verbose = 0);
  // Runs in inference mode, batch by batch; one tensor per model output.
  std::vector<Tensor> predict(const std::vector<Tensor>& x, int64_t batch_size = 32);
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  const std::shared_ptr<Optimizer>& optimizer() const { return optimizer_; }
  bool compiled() const { return compiled_; }
  const CompileOptions& compile_options() const { return compile_options_; }
  // The dynamic loss scale fit() trains with (optim/loss_scale.h): made on
  // first use when a layer computes in f16 (mixed_float16), as Keras's
  // compile() wraps the optimizer; null otherwise. It lives with the model,
  // so a second fit() continues with the scale the first one reached.
  DynamicLossScale* loss_scale();
  bool stop_training = false;  // set by callbacks (EarlyStopping)

  // ---- saving (layers/saving/saving.cpp) --------------------------------------------------------------
  // Architecture + weights + optimizer state in Loom's checkpoint format.
  void save(const std::string& path) const;
  void save_weights(const std::string& path) const;
  // Loads weights by layer and parameter name; throws naming any mismatch.
  void load_weights(const std::string& path);

 protected:
  Model(const std::string& type_name, const std::string& name);  // for Sequential
  // Validates the graph from `inputs` to `outputs`, orders its layer calls
  // topologically into nodes_ and registers the layers as sublayers.
  void set_graph(const std::vector<SymbolicTensor>& inputs,
                 const std::vector<SymbolicTensor>& outputs);
  bool graph_built() const { return !outputs_.empty(); }
  std::vector<SymbolicTensor> inputs_, outputs_;
  // Layer calls (never Input nodes) in topological order.
  std::vector<std::shared_ptr<SymbolicNode>> nodes_;
  CompileOptions compile_options_;
  std::shared_ptr<Optimizer> optimizer_;
  std::shared_ptr<DynamicLossScale> loss_scale_;
  bool compiled_ = false;
};

// A linear stack of layers (Keras Sequential). Built from the first batch it
// sees, or up front when the first layer is given an input shape.
// Every layer must have a single output. A Sequential built from data whose
// later batches differ on a non-batch extent (another sequence length)
// rebuilds its graph with that extent unknown, as Keras does; one given an
// input shape keeps it (use -1 for extents that vary).
class Sequential : public Model {
 public:
  explicit Sequential(std::vector<LayerPtr> layers = {}, const std::string& name = "");
  // Declares the per-sample input shape, building every layer now.
  Sequential(const Shape& input_shape, DType input_dtype, std::vector<LayerPtr> layers,
             const std::string& name = "");
  void add(LayerPtr layer);

  std::vector<LayerPtr> layers() const override { return layers_; }
  void build(const std::vector<Shape>& input_shapes) override;
  LayerOutput call_with_masks(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                              const CallContext& ctx) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  std::string summary() const override;

 private:
  // Input(per_sample, dtype) followed by every layer, called symbolically.
  void build_graph(const Shape& per_sample, DType dtype);
  std::vector<LayerPtr> layers_;
  bool declared_input_ = false;  // input shape given by the user: never relaxed
};

// Restores a model saved with Model::save (architecture, weights, optimizer
// state). Throws loom::Error for a truncated or corrupted file or another
// format version.
std::shared_ptr<Model> load_model(const std::string& path);

}  // namespace loom
