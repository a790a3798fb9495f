// The Cell base and the part shared by the built-in cells: options,
// weights in Keras's layout, variational dropout masks, regularizers.
//
// Dimension letters: B batch, F input features, H units, G gates.
#include "loom/layers/rnn/cell.h"

#include "loom/layers/layer_factory.h"
#include "loom/layers/rnn/gru_cell.h"
#include "loom/layers/rnn/lstm_cell.h"
#include "loom/layers/rnn/simple_rnn_cell.h"

namespace loom {

RnnActivation parse_rnn_activation(const std::string& name, const std::string& who,
                                   const char* option) {
  if (name == "tanh") return RnnActivation::tanh;
  if (name == "sigmoid") return RnnActivation::sigmoid;
  if (name == "hard_sigmoid") return RnnActivation::hard_sigmoid;
  if (name == "relu") return RnnActivation::relu;
  if (name == "linear" || name.empty()) return RnnActivation::linear;
  fail("{}: unknown {} '{}' (a recurrent cell accepts tanh, sigmoid, hard_sigmoid, relu or "
       "linear)",
       who, option, name);
}

// ---- Cell ----------------------------------------------------------------------------------

Cell::Cell(std::string type_name, std::string name) : Layer(std::move(type_name), std::move(name)) {}

std::vector<Tensor> Cell::zero_states(int64_t batch, Device device) const {
  std::vector<Tensor> out;
  for (int64_t n : state_size()) out.push_back(Tensor::zeros({batch, n}, dtype(), device));
  return out;
}

std::shared_ptr<Cell> Cell::clone(const std::string& name) const {
  fail("{}: this cell cannot copy itself (Cell::clone is not implemented); give Bidirectional "
       "a backward_layer",
       describe());
}

void Cell::build_cell(int64_t input_size, DType dtype) {
  LOOM_CHECK(input_size > 0, "{}: the input must have a known feature size, got {}", describe(),
             input_size);
  ensure_built({{-1, input_size}}, {dtype});
}

std::vector<Tensor> Cell::call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                               const CallContext& ctx) {
  const std::vector<int64_t> sizes = state_size();
  const Tensor& x = inputs[0];
  LOOM_CHECK(x.ndim() == 2, "{}: a cell steps one timestep: expected x (B,F), got {}", describe(),
             shape_str(x.shape()));
  std::vector<Tensor> states(inputs.begin() + 1, inputs.end());
  if (states.empty()) states = zero_states(x.dim(0), x.device());
  LOOM_CHECK(states.size() == sizes.size(), "{}: expected {} states, got {}", describe(),
             sizes.size(), states.size());
  CellOutput o = call(x, states, ctx.training);
  for (const Tensor& p : weight_penalties()) add_loss(p);
  std::vector<Tensor> out{o.output};
  out.insert(out.end(), o.states.begin(), o.states.end());
  return out;
}

std::vector<Shape> Cell::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  const int64_t B = input_shapes.at(0).at(0);
  std::vector<Shape> out{{B, output_size()}};
  for (int64_t n : state_size()) out.push_back({B, n});
  return out;
}

// ---- BuiltinCell ----------------------------------------------------------------------------

namespace {
uint64_t dropout_seed(const std::optional<uint64_t>& seed) {
  // A different stream from the weights' when seeded.
  return seed ? *seed ^ 0x9E3779B97F4A7C15ull : default_generator().next_seed();
}
}  // namespace

BuiltinCell::BuiltinCell(std::string type_name, RnnCellKind kind, Options options,
                         std::string name)
    : Cell(std::move(type_name), std::move(name)),
      options_(std::move(options)),
      kind_(kind),
      dropout_gen_(dropout_seed(options_.seed)) {
  LOOM_CHECK(options_.units > 0, "{}: units must be positive, got {}", describe(), options_.units);
  // build() multiplies units by the gate count (up to 4); a saved
  // architecture can hold any integer, so keep that product in int64.
  LOOM_CHECK(options_.units <= INT64_MAX / 4, "{}: units {} is too large (at most {})", describe(),
             options_.units, INT64_MAX / 4);
  activation_ = parse_rnn_activation(options_.activation, describe(), "activation");
  recurrent_activation_ =
      parse_rnn_activation(options_.recurrent_activation, describe(), "recurrent_activation");
  // Written so that NaN fails too.
  LOOM_CHECK(options_.dropout >= 0.0 && options_.dropout < 1.0,
             "{}: dropout must be in [0, 1), got {}", describe(), options_.dropout);
  LOOM_CHECK(options_.recurrent_dropout >= 0.0 && options_.recurrent_dropout < 1.0,
             "{}: recurrent_dropout must be in [0, 1), got {}", describe(),
             options_.recurrent_dropout);
  if (options_.seed) weights_gen_.emplace(*options_.seed);
}

int64_t BuiltinCell::gates() const {
  return kind_ == RnnCellKind::lstm ? 4 : kind_ == RnnCellKind::gru ? 3 : 1;
}

std::vector<int64_t> BuiltinCell::state_size() const {
  if (kind_ == RnnCellKind::lstm) return {options_.units, options_.units};
  return {options_.units};
}

void BuiltinCell::build(const std::vector<Shape>& input_shapes) {
  const Shape& s = input_shapes.at(0);
  LOOM_CHECK(s.size() == 2 && s[1] > 0, "{}: expected x (B,F) with a known F, got {}", describe(),
             shape_str(s));
  const int64_t F = s[1], H = options_.units, GH = gates() * H;
  Generator& gen = weights_generator(weights_gen_);
  kernel_ = add_weight("kernel", options_.kernel_initializer({F, GH}, dtype(), gen));
  recurrent_kernel_ =
      add_weight("recurrent_kernel", options_.recurrent_initializer({H, GH}, dtype(), gen));
  if (!options_.use_bias) return;
  Tensor b;
  if (kind_ == RnnCellKind::lstm && options_.unit_forget_bias) {
    // Keras: [init(H), ones(H), init(2H)] so the forget gate starts open.
    b = concat({options_.bias_initializer({H}, dtype(), gen), Tensor::ones({H}, dtype()),
                options_.bias_initializer({2 * H}, dtype(), gen)},
               0);
  } else if (kind_ == RnnCellKind::gru && options_.reset_after) {
    b = options_.bias_initializer({2, GH}, dtype(), gen);
  } else {
    b = options_.bias_initializer({GH}, dtype(), gen);
  }
  bias_ = add_weight("bias", b);
}

RnnDesc BuiltinCell::rnn_desc() const {
  RnnDesc d;
  d.cell = kind_;
  d.reset_after = options_.reset_after;
  d.activation = activation_;
  d.recurrent_activation = recurrent_activation_;
  d.use_bias = options_.use_bias;
  d.H = options_.units;
  d.dtype = dtype();
  return d;
}

// ---- dropout ------------------------------------------------------------------------------

void BuiltinCell::set_dropout_masks(const Tensor& input_mask, const Tensor& recurrent_mask) {
  fixed_input_mask_ = input_mask.defined() ? input_mask.detach() : Tensor();
  fixed_recurrent_mask_ = recurrent_mask.defined() ? recurrent_mask.detach() : Tensor();
  mask_batch_ = -1;  // the next sequence picks them up
}

void BuiltinCell::begin_sequence(int64_t batch, bool training) {
  // Inference draws nothing and must not write here: it may run in many
  // threads at once while the masks belong to the last training sequence.
  if (!training) return;
  input_mask_ = Tensor();
  recurrent_mask_ = Tensor();
  mask_batch_ = batch;
  const int64_t F = kernel_->value.dim(0), H = options_.units;
  auto pick = [&](const Tensor& fixed, double rate, int64_t width, const char* what) {
    if (rate == 0.0) return Tensor();
    // Masks live with the weights (a GPU layer draws them there; Philox
    // gives the same bits on every device).
    const Device dev = kernel_->value.device();
    if (!fixed.defined()) return dropout_mask({batch, width}, rate, dtype(), dropout_gen_, dev);
    LOOM_CHECK(fixed.shape() == Shape({batch, width}),
               "{}: the fixed {} dropout mask has shape {}, expected {} for this batch",
               describe(), what, shape_str(fixed.shape()), shape_str({batch, width}));
    return (fixed.dtype() == dtype() ? fixed : fixed.to(dtype())).to(dev);
  };
  input_mask_ = pick(fixed_input_mask_, options_.dropout, F, "input");
  recurrent_mask_ = pick(fixed_recurrent_mask_, options_.recurrent_dropout, H, "recurrent");
}

Tensor BuiltinCell::dropped_input(const Tensor& x, bool training) {
  if (!training || options_.dropout == 0.0) return x;
  // Stepped on its own (not by an RNN layer): draw for this batch once.
  if (!input_mask_.defined() || mask_batch_ != x.dim(0)) begin_sequence(x.dim(0), training);
  return mul(x, input_mask_);
}

Tensor BuiltinCell::dropped_state(const Tensor& h, bool training) {
  if (!training || options_.recurrent_dropout == 0.0) return h;
  if (!recurrent_mask_.defined() || mask_batch_ != h.dim(0)) begin_sequence(h.dim(0), training);
  return mul(h, recurrent_mask_);
}

Tensor BuiltinCell::activate(const Tensor& x) const {
  return activation(x, rnn_activation_name(activation_));
}

Tensor BuiltinCell::activate_recurrent(const Tensor& x) const {
  return activation(x, rnn_activation_name(recurrent_activation_));
}

void BuiltinCell::reseed(Generator& source) {
  dropout_gen_.reseed(source.next_seed());
  Cell::reseed(source);
}

// ---- the rest -------------------------------------------------------------------------------

std::vector<Tensor> BuiltinCell::weight_penalties() const {
  std::vector<Tensor> out;
  if (!kernel_) return out;
  if (options_.kernel_regularizer.active())
    out.push_back(options_.kernel_regularizer.penalty(kernel_->value));
  if (options_.recurrent_regularizer.active())
    out.push_back(options_.recurrent_regularizer.penalty(recurrent_kernel_->value));
  if (bias_ && options_.bias_regularizer.active())
    out.push_back(options_.bias_regularizer.penalty(bias_->value));
  return out;
}

std::shared_ptr<Cell> BuiltinCell::clone(const std::string& name) const {
  Options o = options_;
  switch (kind_) {
    case RnnCellKind::simple_rnn: return SimpleRNNCell::make(o, name);
    case RnnCellKind::lstm: return LSTMCell::make(o, name);
    case RnnCellKind::gru: return GRUCell::make(o, name);
  }
  fail("{}: unknown cell kind", describe());
}

Config BuiltinCell::config() const {
  const Options& o = options_;
  Config c{{"units", o.units},
           {"activation", o.activation},
           {"use_bias", o.use_bias},
           {"kernel_initializer", o.kernel_initializer.str()},
           {"recurrent_initializer", o.recurrent_initializer.str()},
           {"bias_initializer", o.bias_initializer.str()},
           {"kernel_regularizer", o.kernel_regularizer.str()},
           {"recurrent_regularizer", o.recurrent_regularizer.str()},
           {"bias_regularizer", o.bias_regularizer.str()},
           {"dropout", o.dropout},
           {"recurrent_dropout", o.recurrent_dropout}};
  if (kind_ != RnnCellKind::simple_rnn) c["recurrent_activation"] = o.recurrent_activation;
  if (kind_ == RnnCellKind::lstm) c["unit_forget_bias"] = o.unit_forget_bias;
  if (kind_ == RnnCellKind::gru) c["reset_after"] = o.reset_after;
  if (o.seed) c["seed"] = static_cast<int64_t>(*o.seed);
  return c;
}

RnnCellOptions read_rnn_cell_options(const ConfigReader& r) {
  RnnCellOptions o;
  o.units = r.require_int("units");
  o.activation = r.get_string("activation", o.activation);
  o.recurrent_activation = r.get_string("recurrent_activation", o.recurrent_activation);
  o.use_bias = r.get_bool("use_bias", o.use_bias);
  o.kernel_initializer = r.get_string("kernel_initializer", o.kernel_initializer.str());
  o.recurrent_initializer = r.get_string("recurrent_initializer", o.recurrent_initializer.str());
  o.bias_initializer = r.get_string("bias_initializer", o.bias_initializer.str());
  o.unit_forget_bias = r.get_bool("unit_forget_bias", o.unit_forget_bias);
  o.kernel_regularizer = Regularizer::parse(r.get_string("kernel_regularizer", "none"));
  o.recurrent_regularizer = Regularizer::parse(r.get_string("recurrent_regularizer", "none"));
  o.bias_regularizer = Regularizer::parse(r.get_string("bias_regularizer", "none"));
  o.dropout = r.get_double("dropout", o.dropout);
  o.recurrent_dropout = r.get_double("recurrent_dropout", o.recurrent_dropout);
  o.reset_after = r.get_bool("reset_after", o.reset_after);
  if (r.has("seed")) o.seed = static_cast<uint64_t>(r.get_int("seed", 0));
  return o;
}

}  // namespace loom
