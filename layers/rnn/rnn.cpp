// The RNN layer over a cell, and SimpleRNN, LSTM, GRU.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
// Built-in cells run through the explicit BPTT (bptt.cpp); any other cell is
// unrolled here on the tape with the same masking and state rules.
#include "loom/layers/rnn/rnn.h"

#include "loom/layers/layer_factory.h"
#include "loom/layers/rnn/bptt.h"

namespace loom {

// ---- RNN ------------------------------------------------------------------------------------

RNN::RNN(CellPtr cell, Options options, std::string name)
    : RNN("RNN", std::move(cell), options, std::move(name)) {}

RNN::RNN(std::string type_name, CellPtr cell, Options options, std::string name)
    : Layer(std::move(type_name), std::move(name)), cell_(std::move(cell)), options_(options) {
  LOOM_CHECK(cell_ != nullptr, "{}: the cell is null", describe());
  add_sublayer(cell_);
}

LayerHandle<RNN> RNN::make(CellPtr cell, Options options, std::string name) {
  return std::make_shared<RNN>(std::move(cell), options, std::move(name));
}

LayerOutput RNN::run(const Tensor& x, const RnnCallArgs& args) {
  std::vector<Tensor> inputs{x};
  inputs.insert(inputs.end(), args.initial_state.begin(), args.initial_state.end());
  CallContext ctx;
  ctx.training = args.training;
  return (*this)(inputs, {args.mask}, ctx);
}

void RNN::build(const std::vector<Shape>& input_shapes) {
  const Shape& s = input_shapes.at(0);
  LOOM_CHECK(s.size() == 3 && s[2] > 0, "{}: expected x ({}) with a known F, got {}", describe(),
             options_.time_major ? "T,B,F" : "B,T,F", shape_str(s));
  cell_->build_cell(s[2], dtype());
}

std::vector<Tensor> RNN::call(const std::vector<Tensor>& inputs, const std::vector<Tensor>& masks,
                              const CallContext& ctx) {
  Tensor x = inputs[0];
  Tensor mask = masks.empty() ? Tensor() : masks[0];
  LOOM_CHECK(x.ndim() == 3 && is_floating(x.dtype()),
             "{}: expected a floating x ({}), got {} of shape {}", describe(),
             options_.time_major ? "T,B,F" : "B,T,F", dtype_name(x.dtype()), shape_str(x.shape()));
  if (options_.time_major) {
    x = transpose(x, 0, 1);
    if (mask.defined()) mask = transpose(mask, 0, 1);
  }
  const int64_t B = x.dim(0), T = x.dim(1);
  LOOM_CHECK(T > 0, "{}: the input {} has no timesteps", describe(), shape_str(inputs[0].shape()));
  if (mask.defined()) {
    LOOM_CHECK(mask.shape() == Shape({B, T}), "{}: mask of shape {} does not match x {} (expected "
               "{})", describe(), shape_str(masks[0].shape()), shape_str(inputs[0].shape()),
               options_.time_major ? shape_str({T, B}) : shape_str({B, T}));
    // Any dtype, nonzero = present, as 0/1 in the layer's dtype.
    mask = compare(mask.detach(), 0.0, Compare::ne).to(dtype());
  }

  const std::vector<int64_t> sizes = cell_->state_size();
  std::vector<Tensor> initial(inputs.begin() + 1, inputs.end());
  if (!initial.empty()) {
    LOOM_CHECK(initial.size() == sizes.size(), "{}: expected {} initial state tensor(s), got {}",
               describe(), sizes.size(), initial.size());
    for (size_t k = 0; k < initial.size(); ++k)
      LOOM_CHECK(initial[k].shape() == Shape({B, sizes[k]}),
                 "{}: initial state {} has shape {}, expected {}", describe(), k,
                 shape_str(initial[k].shape()), shape_str({B, sizes[k]}));
  }
  // A symbolic call's sample run (batch 1 of zeros) must leave the carried
  // states and the fixed batch size alone.
  const bool carry = options_.stateful && !ctx.tracing;
  if (carry) {
    if (stateful_batch_ < 0) stateful_batch_ = B;
    LOOM_CHECK(B == stateful_batch_,
               "{}: a stateful layer keeps one state per sample, for batch size {} (fixed by "
               "its first call or reset_states(states)); got a batch of {}",
               describe(), stateful_batch_, B);
    if (initial.empty()) initial = states_;
  }

  cell_->begin_sequence(B, ctx.training);
  std::vector<Tensor> out;
  auto* builtin = dynamic_cast<BuiltinCell*>(cell_.get());
  if (builtin && use_explicit_bptt_) {
    LOOM_CHECK(x.dim(2) == builtin->kernel()->value.dim(0),
               "{}: expected {} features per step (the layer was built for that), got x {}",
               describe(), builtin->kernel()->value.dim(0), shape_str(inputs[0].shape()));
    RnnDesc d = builtin->rnn_desc();
    d.go_backwards = options_.go_backwards;
    d.return_sequences = options_.return_sequences;
    d.zero_output_for_mask = options_.zero_output_for_mask;
    RnnSequenceArgs a;
    a.x = x;
    a.mask = mask;
    a.initial_state = initial;
    a.kernel = builtin->kernel()->value;
    a.recurrent_kernel = builtin->recurrent_kernel()->value;
    if (builtin->bias()) a.bias = builtin->bias()->value;
    if (ctx.training) {  // the masks of this training sequence (begin_sequence drew them)
      a.input_dropout_mask = builtin->input_dropout_mask();
      a.recurrent_dropout_mask = builtin->recurrent_dropout_mask();
    }
    RnnSequenceResult r = rnn_sequence(d, a, describe());
    out.push_back(r.output);
    out.insert(out.end(), r.states.begin(), r.states.end());
  } else {
    out = run_generic(x, mask, initial, ctx.training);
  }
  for (const Tensor& p : cell_->weight_penalties()) add_loss(p);

  if (carry) {
    states_.clear();
    for (size_t k = 1; k < out.size(); ++k) states_.push_back(out[k].detach());
  }
  if (options_.time_major && options_.return_sequences) out[0] = transpose(out[0], 0, 1);
  if (!options_.return_state) out.resize(1);
  return out;
}

// The generic path: the cell's ops recorded step by step. Per step t:
//   new = cell(x[:, t], states)
//   states = where(m_t, new states, states)            (carried over at masked steps)
//   out    = where(m_t, new output, 0 or previous out)  (zero_output_for_mask or not)
std::vector<Tensor> RNN::run_generic(const Tensor& x, const Tensor& mask,
                                     const std::vector<Tensor>& initial, bool training) {
  const int64_t B = x.dim(0), T = x.dim(1);
  std::vector<Tensor> states = initial.empty() ? cell_->zero_states(B, x.device()) : initial;
  Tensor prev = Tensor::zeros({B, cell_->output_size()}, dtype(), x.device());
  const Tensor zero = Tensor::zeros({}, dtype(), x.device());
  std::vector<Tensor> outs;
  if (options_.return_sequences) outs.reserve(static_cast<size_t>(T));
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = options_.go_backwards ? T - 1 - s : s;
    CellOutput o = cell_->call(select(x, 1, t), states, training);
    LOOM_CHECK(o.states.size() == states.size() && o.output.defined(),
               "{}: the cell returned {} states for {} (and an {} output)", describe(),
               o.states.size(), states.size(), o.output.defined() ? "defined" : "undefined");
    Tensor out = o.output;
    if (mask.defined()) {
      const Tensor m = slice(mask, 1, t, t + 1);  // (B,1)
      for (size_t k = 0; k < states.size(); ++k) states[k] = where(m, o.states[k], states[k]);
      out = where(m, o.output, options_.zero_output_for_mask ? zero : prev);
    } else {
      states = o.states;
    }
    prev = out;
    if (options_.return_sequences) outs.push_back(out);
  }
  std::vector<Tensor> result{options_.return_sequences ? stack(outs, 1) : prev};
  result.insert(result.end(), states.begin(), states.end());
  return result;
}

std::vector<Tensor> RNN::compute_mask(const std::vector<Tensor>& inputs,
                                      const std::vector<Tensor>& masks) const {
  std::vector<Tensor> out;
  // The sequence keeps the time axis, so the input's mask still applies.
  out.push_back(options_.return_sequences && !masks.empty() ? masks[0] : Tensor());
  if (options_.return_state) out.resize(1 + cell_->state_size().size());
  return out;
}

std::vector<Shape> RNN::compute_output_shape(const std::vector<Shape>& input_shapes) const {
  const Shape& s = input_shapes.at(0);
  LOOM_CHECK(s.size() == 3, "{}: expected x of rank 3, got {}", describe(), shape_str(s));
  const int64_t B = options_.time_major ? s[1] : s[0], T = options_.time_major ? s[0] : s[1];
  const int64_t H = cell_->output_size();
  std::vector<Shape> out;
  if (!options_.return_sequences) out.push_back({B, H});
  else out.push_back(options_.time_major ? Shape{T, B, H} : Shape{B, T, H});
  if (options_.return_state)
    for (int64_t n : cell_->state_size()) out.push_back({B, n});
  return out;
}

namespace {
// The RnnLayerOptions entries of a config, and back (Keras's names).
RnnLayerOptions read_layer_options(const ConfigReader& r) {
  RnnLayerOptions o;
  o.return_sequences = r.get_bool("return_sequences", o.return_sequences);
  o.return_state = r.get_bool("return_state", o.return_state);
  o.go_backwards = r.get_bool("go_backwards", o.go_backwards);
  o.stateful = r.get_bool("stateful", o.stateful);
  o.time_major = r.get_bool("time_major", o.time_major);
  o.zero_output_for_mask = r.get_bool("zero_output_for_mask", o.zero_output_for_mask);
  o.unroll = r.get_bool("unroll", o.unroll);
  return o;
}

void put_layer_options(Config& c, const RnnLayerOptions& o) {
  c["return_sequences"] = o.return_sequences;
  c["return_state"] = o.return_state;
  c["go_backwards"] = o.go_backwards;
  c["stateful"] = o.stateful;
  c["time_major"] = o.time_major;
  c["zero_output_for_mask"] = o.zero_output_for_mask;
  c["unroll"] = o.unroll;
}
}  // namespace

// The cell's config travels flattened under "cell." (Config values are flat).
Config RNN::config() const {
  Config c;
  put_layer_options(c, options_);
  c["cell"] = cell_->type_name();
  c["cell_name"] = cell_->name();
  for (const auto& [k, v] : cell_->config()) c["cell." + k] = v;
  return c;
}

LayerPtr RNN::from_config(const Config& config, const std::string& name) {
  Config own, cell_config;
  for (const auto& [k, v] : config) {
    if (k.rfind("cell.", 0) == 0) cell_config[k.substr(5)] = v;
    else own[k] = v;
  }
  ConfigReader r(own, "RNN", name);
  const std::string cell_type = r.get_string("cell", "");
  LOOM_CHECK(!cell_type.empty(), "RNN '{}': the config names no cell type", name);
  auto cell = std::dynamic_pointer_cast<Cell>(
      make_layer(cell_type, cell_config, r.get_string("cell_name", "")));
  LOOM_CHECK(cell != nullptr, "RNN '{}': the layer type {} is not a cell", name, cell_type);
  const Options o = read_layer_options(r);
  r.finish();
  return make(cell, o, name);
}

void RNN::reset_states() {
  states_.clear();  // the next call starts from zeros; the batch size stays
  Layer::reset_states();
}

void RNN::reset_states(const std::vector<Tensor>& states) {
  LOOM_CHECK(options_.stateful, "{}: reset_states(states) needs a stateful layer", describe());
  const std::vector<int64_t> sizes = cell_->state_size();
  LOOM_CHECK(states.size() == sizes.size(), "{}: reset_states got {} state tensor(s), expected {}",
             describe(), states.size(), sizes.size());
  const int64_t B = states[0].dim(0);
  if (stateful_batch_ < 0) stateful_batch_ = B;
  for (size_t k = 0; k < states.size(); ++k)
    LOOM_CHECK(states[k].shape() == Shape({stateful_batch_, sizes[k]}),
               "{}: reset_states: state {} has shape {}, expected {}", describe(), k,
               shape_str(states[k].shape()), shape_str({stateful_batch_, sizes[k]}));
  states_.clear();
  for (const Tensor& s : states) states_.push_back(s.detach().to(dtype()));
}

std::shared_ptr<RNN> RNN::make_reverse_copy(const std::string& name) const {
  Options o = options_;
  o.go_backwards = !o.go_backwards;
  auto copy = std::make_shared<RNN>(cell_->clone(name + "_cell"), o, name);
  copy->use_explicit_bptt_ = use_explicit_bptt_;
  return copy;
}

// ---- RecurrentOptions / BuiltinRNN ---------------------------------------------------------------

RnnCellOptions RecurrentOptions::cell_options() const {
  RnnCellOptions c;
  c.units = units;
  c.activation = activation;
  c.recurrent_activation = recurrent_activation;
  c.use_bias = use_bias;
  c.kernel_initializer = kernel_initializer;
  c.recurrent_initializer = recurrent_initializer;
  c.bias_initializer = bias_initializer;
  c.unit_forget_bias = unit_forget_bias;
  c.kernel_regularizer = kernel_regularizer;
  c.recurrent_regularizer = recurrent_regularizer;
  c.bias_regularizer = bias_regularizer;
  c.dropout = dropout;
  c.recurrent_dropout = recurrent_dropout;
  c.reset_after = reset_after;
  c.seed = seed;
  return c;
}

RnnLayerOptions RecurrentOptions::layer_options() const {
  RnnLayerOptions l;
  l.return_sequences = return_sequences;
  l.return_state = return_state;
  l.go_backwards = go_backwards;
  l.stateful = stateful;
  l.time_major = time_major;
  l.zero_output_for_mask = zero_output_for_mask;
  l.unroll = unroll;
  return l;
}

BuiltinRNN::BuiltinRNN(std::string type_name, std::shared_ptr<BuiltinCell> cell, Options options)
    : RNN(std::move(type_name), cell, options.layer_options(), cell->name()),
      options_(std::move(options)),
      builtin_(std::move(cell)) {
  LOOM_CHECK(options_.implementation == 1 || options_.implementation == 2,
             "{}: implementation must be 1 or 2, got {}", describe(), options_.implementation);
}

Config BuiltinRNN::config() const {
  Config c = builtin_->config();
  put_layer_options(c, layer_options());
  c["implementation"] = static_cast<int64_t>(options_.implementation);
  return c;
}

RecurrentOptions recurrent_options_from_config(const Config& config, const std::string& type_name,
                                               const std::string& name) {
  ConfigReader r(config, type_name, name);
  const RnnCellOptions c = read_rnn_cell_options(r);
  const RnnLayerOptions l = read_layer_options(r);
  RecurrentOptions o;
  o.units = c.units;
  o.activation = c.activation;
  o.recurrent_activation = c.recurrent_activation;
  o.use_bias = c.use_bias;
  o.kernel_initializer = c.kernel_initializer;
  o.recurrent_initializer = c.recurrent_initializer;
  o.bias_initializer = c.bias_initializer;
  o.unit_forget_bias = c.unit_forget_bias;
  o.kernel_regularizer = c.kernel_regularizer;
  o.recurrent_regularizer = c.recurrent_regularizer;
  o.bias_regularizer = c.bias_regularizer;
  o.dropout = c.dropout;
  o.recurrent_dropout = c.recurrent_dropout;
  o.reset_after = c.reset_after;
  o.seed = c.seed;
  o.return_sequences = l.return_sequences;
  o.return_state = l.return_state;
  o.go_backwards = l.go_backwards;
  o.stateful = l.stateful;
  o.time_major = l.time_major;
  o.zero_output_for_mask = l.zero_output_for_mask;
  o.unroll = l.unroll;
  o.implementation = static_cast<int>(r.get_int("implementation", o.implementation));
  r.finish();
  return o;
}

RecurrentOptions reversed_options(RecurrentOptions o) {
  o.go_backwards = !o.go_backwards;
  if (o.seed) o.seed = *o.seed + 1;
  return o;
}

}  // namespace loom
