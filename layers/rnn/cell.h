// Recurrent cells: what one timestep of a recurrent layer computes.
//
// Dimension letters: B batch, F input features per step, H units.
//
// A Cell maps (x (B,F), states) to (output (B, output_size()), new states),
// Keras's RNN cell protocol. The RNN layer (layers/rnn/rnn.h) runs a cell
// over a sequence and adds masking, go_backwards, initial and stateful
// states around it, so a cell only ever sees one step.
//
// Writing your own cell: derive from Cell, create weights in build() with
// add_weight (the input shape is (B,F)), and implement state_size(),
// output_size() and call(x, states, training) with autograd ops (any op in
// autograd/ops.h). The RNN layer then unrolls it on the tape, one set of
// ops per step, and every RNN feature applies to it:
//
//   class MinimalRNNCell : public Cell {
//    public:
//     explicit MinimalRNNCell(int64_t units) : Cell("MinimalRNNCell"), units_(units) {}
//     std::vector<int64_t> state_size() const override { return {units_}; }
//     int64_t output_size() const override { return units_; }
//     void build(const std::vector<Shape>& s) override {
//       w_ = add_weight("kernel", Initializer("glorot_uniform")({s[0][1], units_}, dtype()));
//       u_ = add_weight("recurrent_kernel", Initializer("orthogonal")({units_, units_}, dtype()));
//     }
//     CellOutput call(const Tensor& x, const std::vector<Tensor>& states, bool) override {
//       Tensor h = tanh(matmul(x, w_->value) + matmul(states[0], u_->value));
//       return {h, {h}};
//     }
//    private:
//     int64_t units_;
//     ParameterPtr w_, u_;
//   };
//   auto layer = RNN::make(std::make_shared<MinimalRNNCell>(8), {.return_sequences = true});
//
// Built-in cells (SimpleRNNCell, LSTMCell, GRUCell) derive from BuiltinCell:
// they also implement call() with ops (a cell can be stepped on its own),
// but the RNN layer runs them through the explicit BPTT (layers/rnn/bptt.h),
// one tape entry per sequence.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loom/backends/backend.h"
#include "loom/layers/weights/initializers.h"
#include "loom/layers/layer.h"
#include "loom/layers/weights/regularizers.h"

namespace loom {

// What one step returns.
struct CellOutput {
  Tensor output;               // (B, output_size())
  std::vector<Tensor> states;  // one per state_size() entry, each (B, size)
};

class Cell : public Layer {
 public:
  explicit Cell(std::string type_name, std::string name = "");

  // ---- the cell protocol ---------------------------------------------------------------
  // Sizes of the states, in order: {H} for SimpleRNN and GRU, {H, H} for
  // LSTM (h then c); a stacked cell concatenates its cells' lists.
  virtual std::vector<int64_t> state_size() const = 0;
  // Width of the per-step output (H for the built-in cells).
  virtual int64_t output_size() const = 0;
  // One step: x (B,F) and states (each (B, state_size()[k])) -> output and
  // new states. `training` turns dropout on.
  using Layer::call;
  virtual CellOutput call(const Tensor& x, const std::vector<Tensor>& states, bool training) = 0;

  // Called by the RNN layer before the first step of every sequence, so a
  // cell can draw per-sequence randomness (the variational dropout masks).
  virtual void begin_sequence(int64_t batch, bool training) {}
  // Zero states for a batch, in the cell's dtype.
  virtual std::vector<Tensor> zero_states(int64_t batch, Device device = Device::cpu()) const;
  // Weight penalties (regularizers) on the current weights, as scalars on
  // the tape. The RNN layer adds them to its losses() on every call.
  virtual std::vector<Tensor> weight_penalties() const { return {}; }
  // A new cell with the same configuration and fresh weights, named `name`
  // (Bidirectional's backward copy). The default throws: pass Bidirectional
  // a backward_layer for cells that do not implement it.
  virtual std::shared_ptr<Cell> clone(const std::string& name) const;
  // Builds the cell for `input_size` features per step in `dtype` (once).
  void build_cell(int64_t input_size, DType dtype);

  // ---- the Layer interface: a cell called on its own ---------------------------------------
  // inputs {x (B,F), state_0, state_1, ...} -> {output, new state_0, ...}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                           const CallContext& ctx) override;
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& input_shapes) const override;
};

using CellPtr = std::shared_ptr<Cell>;

// Keras's arguments of SimpleRNNCell, LSTMCell and GRUCell (one struct for
// all three; the fields marked LSTM/GRU are ignored by the others).
struct RnnCellOptions {
  int64_t units = 0;
  std::string activation = "tanh";               // tanh, sigmoid, hard_sigmoid, relu, linear
  std::string recurrent_activation = "sigmoid";  // LSTM/GRU gates; same choices
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer recurrent_initializer = "orthogonal";
  Initializer bias_initializer = "zeros";
  bool unit_forget_bias = true;  // LSTM: the forget gate's bias starts at 1
  Regularizer kernel_regularizer;
  Regularizer recurrent_regularizer;
  Regularizer bias_regularizer;
  double dropout = 0.0;            // on x, variational: one (B,F) mask per sequence
  double recurrent_dropout = 0.0;  // on h entering h U: one (B,H) mask per sequence
  bool reset_after = true;         // GRU: bias (2,3H), reset gate after the product
  // Seeds the weights and the dropout masks; without it both come from
  // default_generator() (see loom::manual_seed).
  std::optional<uint64_t> seed;
};

// The common part of the three built-in cells: options, weights in Keras's
// layout, variational dropout masks, regularizers, and the RnnDesc the
// explicit BPTT runs them with.
//   kernel (F,GH), recurrent_kernel (H,GH), bias (GH) or GRU reset_after (2,GH);
//   weight names "<cell name>/kernel", ".../recurrent_kernel", ".../bias"
//   (the SimpleRNN/LSTM/GRU layers name their cell after themselves).
class BuiltinCell : public Cell {
 public:
  using Options = RnnCellOptions;
  const Options& options() const { return options_; }
  RnnCellKind kind() const { return kind_; }
  int64_t units() const { return options_.units; }
  int64_t gates() const;  // G

  std::vector<int64_t> state_size() const override;
  int64_t output_size() const override { return options_.units; }
  void build(const std::vector<Shape>& input_shapes) override;
  void begin_sequence(int64_t batch, bool training) override;
  std::vector<Tensor> weight_penalties() const override;
  std::shared_ptr<Cell> clone(const std::string& name) const override;
  Config config() const override;
  void reseed(Generator& source) override;

  // The weights (null before build; bias null without use_bias).
  const ParameterPtr& kernel() const { return kernel_; }
  const ParameterPtr& recurrent_kernel() const { return recurrent_kernel_; }
  const ParameterPtr& bias() const { return bias_; }

  // The RnnDesc fields this cell fixes: cell kind, activations, reset_after, use_bias, H.
  RnnDesc rnn_desc() const;

  // ---- dropout --------------------------------------------------------------------------
  // The masks of the last training sequence: input (B,F), recurrent (B,H),
  // scaled by 1/(1-rate); undefined before one or when the rate is 0.
  // Inference neither uses nor changes them.
  const Tensor& input_dropout_mask() const { return input_mask_; }
  const Tensor& recurrent_dropout_mask() const { return recurrent_mask_; }
  // Uses these masks instead of random ones for every following training
  // sequence (tests); undefined tensors go back to drawing. Shapes are
  // checked when a sequence starts.
  void set_dropout_masks(const Tensor& input_mask, const Tensor& recurrent_mask);

 protected:
  BuiltinCell(std::string type_name, RnnCellKind kind, Options options, std::string name);
  // The mask-applied x and h_d of a step (for the op-based call()).
  Tensor dropped_input(const Tensor& x, bool training);
  Tensor dropped_state(const Tensor& h, bool training);
  Tensor activate(const Tensor& x) const;             // options.activation
  Tensor activate_recurrent(const Tensor& x) const;   // options.recurrent_activation

  Options options_;
  RnnCellKind kind_;
  RnnActivation activation_, recurrent_activation_;
  std::optional<Generator> weights_gen_;
  Generator dropout_gen_;
  ParameterPtr kernel_, recurrent_kernel_, bias_;
  Tensor input_mask_, recurrent_mask_;              // current sequence's
  Tensor fixed_input_mask_, fixed_recurrent_mask_;  // set_dropout_masks
  int64_t mask_batch_ = -1;                         // batch the current masks were drawn for
};

class ConfigReader;  // layers/layer_factory.h
// Reads the RnnCellOptions fields that are present (config() of a built-in
// cell or layer writes them), keeping the defaults for the others.
RnnCellOptions read_rnn_cell_options(const ConfigReader& reader);

// Parses a built-in cell's activation name (tanh, sigmoid, hard_sigmoid,
// relu, linear); throws naming `who`, the option and the accepted names.
RnnActivation parse_rnn_activation(const std::string& name, const std::string& who,
                                   const char* option);

}  // namespace loom
