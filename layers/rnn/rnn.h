// Recurrent layers (Keras 2 semantics, docs/SEMANTICS.md): RNN over any
// cell, and SimpleRNN, LSTM, GRU.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
//
//   auto lstm = LSTM::make({.units = 64, .dropout = 0.2, .return_sequences = true});
//   Tensor y = lstm(x);                                  // x (B,T,F) -> (B,T,64)
//   LayerOutput o = lstm->run(x, {.mask = m,             // m (B,T) 0/1
//                                 .initial_state = {h0, c0},
//                                 .training = true});
//   o[0] (B,T,H); o.masks[0] is m again (passed on with return_sequences)
//
// Calling: inputs {x, initial states...}, masks {mask of x} (Layer's
// operator()), or run() with named arguments. In a functional model a mask
// arrives from Embedding(mask_zero) or Masking.
//   - x (B,T,F); with time_major (T,B,F) and the mask (T,B).
//   - mask (B,T), any dtype, nonzero = step present. Any pattern is legal:
//     right or left padding, holes, rows with no present step.
//   - initial states {h (B,H)} or LSTM {h, c}; zeros when absent; gradients
//     flow to them.
// Outputs (Keras order): the output, (B,T,H) with return_sequences else
// (B,H), then with return_state the final states {h} or LSTM {h, c}.
// With return_sequences the mask is passed on with the output.
//
// Built-in cells run through the explicit BPTT (layers/rnn/bptt.h):
// one tape entry per sequence. Any other cell (layers/rnn/cell.h) is
// unrolled on the tape, one step at a time, with the same masking,
// go_backwards, initial/stateful state and return rules.
//
// Weights (Keras layout, docs/PARITY_FORMAT.md), named after the layer:
//   "<name>/kernel" (F,GH), "<name>/recurrent_kernel" (H,GH),
//   "<name>/bias" (GH) or, GRU with reset_after, (2,GH).
// Read and write them with kernel()/recurrent_kernel()/bias() (Parameters,
// after the layer is built: call it once or build it with
// ensure_built({{B,T,F}}, {dtype})), or get_weights()/set_weights() in that
// order.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loom/layers/rnn/cell.h"
#include "loom/layers/rnn/gru_cell.h"
#include "loom/layers/rnn/lstm_cell.h"
#include "loom/layers/rnn/simple_rnn_cell.h"

namespace loom {

// Keras's RNN layer arguments (the part shared by every recurrent layer).
struct RnnLayerOptions {
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;  // process t = T-1 .. 0; sequences come back in that order
  // The final states of one call are the initial states of the next (for a
  // fixed batch size, set by the first call) until reset_states().
  bool stateful = false;
  bool time_major = false;  // x (T,B,F), mask (T,B), sequence output (T,B,H)
  // At masked steps output zeros instead of the previous output.
  bool zero_output_for_mask = false;
  // Accepted for Keras compatibility; results are the same either way
  // (the explicit BPTT always runs the loop; see the top of this file).
  bool unroll = false;
};

// Named extras for RNN::run().
struct RnnCallArgs {
  Tensor mask;                        // (B,T) (time_major: (T,B)); undefined = none
  std::vector<Tensor> initial_state;  // {h} or LSTM {h, c}, each (B,H); empty = zeros
  bool training = false;              // dropout on
};

class RNN : public Layer {
 public:
  using Options = RnnLayerOptions;

  RNN(CellPtr cell, Options options, std::string name = "");
  static LayerHandle<RNN> make(CellPtr cell, Options options = {}, std::string name = "");
  // Rebuilds the layer from config(): the cell from its registered type
  // (layer_factory.h: the built-in cells are registered, a custom cell
  // needs register_layer_type) and the config entries under "cell.".
  static LayerPtr from_config(const Config& config, const std::string& name);

  // x (B,T,F) plus named extras -> outputs (Keras order) and their masks.
  LayerOutput run(const Tensor& x, const RnnCallArgs& args = {});

  // ---- Layer ------------------------------------------------------------------------------
  void build(const std::vector<Shape>& input_shapes) override;
  // inputs {x, initial states...}; masks {mask of x} (the states' masks are ignored)
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  bool supports_masking() const override { return true; }
  std::vector<Tensor> compute_mask(const std::vector<Tensor>& inputs,
                                   const std::vector<Tensor>& masks) const override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
  Config config() const override;

  // ---- stateful ---------------------------------------------------------------------------
  // Zeros the carried states (the batch size stays fixed).
  void reset_states() override;
  // Sets the carried states ({h} or {h, c}, each (B,H)); fixes the batch size.
  void reset_states(const std::vector<Tensor>& states);
  // The carried states (empty before the first call or after reset_states()).
  const std::vector<Tensor>& states() const { return states_; }

  // ---- access -----------------------------------------------------------------------------
  const CellPtr& cell() const { return cell_; }
  const Options& layer_options() const { return options_; }
  // Bidirectional sets zero_output_for_mask = return_sequences on both directions.
  void set_zero_output_for_mask(bool on) { options_.zero_output_for_mask = on; }
  // A new layer with the same configuration, fresh weights and go_backwards
  // flipped, named `name` (Bidirectional's backward copy).
  virtual std::shared_ptr<RNN> make_reverse_copy(const std::string& name) const;
  // For tests and debugging: false runs built-in cells through the generic
  // unrolled path instead of the explicit BPTT (same results).
  void set_use_explicit_bptt(bool on) { use_explicit_bptt_ = on; }
  bool use_explicit_bptt() const { return use_explicit_bptt_; }

 protected:
  RNN(std::string type_name, CellPtr cell, Options options, std::string name);

 private:
  std::vector<Tensor> run_generic(const Tensor& x, const Tensor& mask,
                                  const std::vector<Tensor>& initial, bool training);

  CellPtr cell_;
  Options options_;
  bool use_explicit_bptt_ = true;
  std::vector<Tensor> states_;  // stateful: carried states (detached)
  int64_t stateful_batch_ = -1;
};

// Keras's SimpleRNN/LSTM/GRU arguments in one flat struct, so that they
// read like the Keras call:
//   LSTM::make({.units = 32, .recurrent_dropout = 0.1, .return_state = true})
// (designated initializers must follow this order). Fields for LSTM/GRU
// only are ignored by the others.
struct RecurrentOptions {
  // the cell (RnnCellOptions)
  int64_t units = 0;
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer recurrent_initializer = "orthogonal";
  Initializer bias_initializer = "zeros";
  bool unit_forget_bias = true;  // LSTM
  Regularizer kernel_regularizer;
  Regularizer recurrent_regularizer;
  Regularizer bias_regularizer;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  bool reset_after = true;  // GRU
  // the layer (RnnLayerOptions)
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool time_major = false;
  bool zero_output_for_mask = false;
  bool unroll = false;      // accepted; no effect on results
  int implementation = 2;   // 1 or 2, accepted; no effect on results
  std::optional<uint64_t> seed;  // weights and dropout masks

  RnnCellOptions cell_options() const;
  RnnLayerOptions layer_options() const;
};

// Reads RecurrentOptions from a config (SimpleRNN/LSTM/GRU from_config).
RecurrentOptions recurrent_options_from_config(const Config& config, const std::string& type_name,
                                               const std::string& name);
// The options of Bidirectional's backward copy: go_backwards flipped, and a
// seeded layer's seed moved on so that the copy gets its own weights.
RecurrentOptions reversed_options(RecurrentOptions options);

// An RNN over a built-in cell named after the layer, with typed access.
class BuiltinRNN : public RNN {
 public:
  using Options = RecurrentOptions;
  const Options& options() const { return options_; }
  BuiltinCell& builtin_cell() const { return *builtin_; }
  const ParameterPtr& kernel() const { return builtin_->kernel(); }
  const ParameterPtr& recurrent_kernel() const { return builtin_->recurrent_kernel(); }
  const ParameterPtr& bias() const { return builtin_->bias(); }
  int64_t units() const { return options_.units; }
  Config config() const override;
  // Same as BuiltinCell::set_dropout_masks (tests fix the variational masks).
  void set_dropout_masks(const Tensor& input_mask, const Tensor& recurrent_mask) {
    builtin_->set_dropout_masks(input_mask, recurrent_mask);
  }

 protected:
  // The layer takes its cell's name.
  BuiltinRNN(std::string type_name, std::shared_ptr<BuiltinCell> cell, Options options);
  Options options_;
  std::shared_ptr<BuiltinCell> builtin_;
};

// SimpleRNN, LSTM and GRU: a BuiltinRNN over their own cell type, which
// takes the layer's name (so the weights are "<layer>/kernel", ...).
template <typename Self, typename CellType>
class BuiltinRnnOf : public BuiltinRNN {
 public:
  static LayerHandle<Self> make(Options options, std::string name = "") {
    return std::make_shared<Self>(std::move(options), std::move(name));
  }
  static LayerPtr from_config(const Config& config, const std::string& name) {
    return make(recurrent_options_from_config(config, Self::kTypeName, name), name);
  }
  std::shared_ptr<RNN> make_reverse_copy(const std::string& name) const override {
    auto copy = make(reversed_options(options_), name);
    copy->set_use_explicit_bptt(use_explicit_bptt());
    return copy;
  }

 protected:
  BuiltinRnnOf(Options options, std::string name)
      : BuiltinRNN(Self::kTypeName,
                   CellType::make(options.cell_options(),
                                  name.empty() ? default_layer_name(Self::kTypeName) : name),
                   options) {}
};

class SimpleRNN : public BuiltinRnnOf<SimpleRNN, SimpleRNNCell> {
 public:
  static constexpr const char* kTypeName = "SimpleRNN";
  explicit SimpleRNN(Options options, std::string name = "")
      : BuiltinRnnOf(std::move(options), std::move(name)) {}
};

class LSTM : public BuiltinRnnOf<LSTM, LSTMCell> {
 public:
  static constexpr const char* kTypeName = "LSTM";
  explicit LSTM(Options options, std::string name = "")
      : BuiltinRnnOf(std::move(options), std::move(name)) {}
};

class GRU : public BuiltinRnnOf<GRU, GRUCell> {
 public:
  static constexpr const char* kTypeName = "GRU";
  explicit GRU(Options options, std::string name = "")
      : BuiltinRnnOf(std::move(options), std::move(name)) {}
};


}  // namespace loom
