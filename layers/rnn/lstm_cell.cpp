// LSTMCell stepped with autograd ops (the RNN layer runs the explicit BPTT
// instead; tests check the two agree).
//
// Dimension letters: B batch, F input features, H units; gates i, f, c, o.
#include "loom/layers/rnn/lstm_cell.h"

#include "loom/layers/layer_factory.h"

namespace loom {

LSTMCell::LSTMCell(Options options, std::string name)
    : BuiltinCell("LSTMCell", RnnCellKind::lstm, std::move(options), std::move(name)) {}

std::shared_ptr<LSTMCell> LSTMCell::make(Options options, std::string name) {
  return std::make_shared<LSTMCell>(std::move(options), std::move(name));
}

LayerPtr LSTMCell::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "LSTMCell", name);
  Options o = read_rnn_cell_options(r);
  r.finish();
  return make(o, name);
}

// x (B,F), states {h, c (B,H)}:
//   a (B,4H) = x_d W + h_d U + b = [a_i | a_f | a_c | a_o]
//   c' = ra(a_f) c + ra(a_i) act(a_c),   h' = ra(a_o) act(c')
CellOutput LSTMCell::call(const Tensor& x, const std::vector<Tensor>& states, bool training) {
  LOOM_CHECK(built(), "{}: step called before the cell was built", describe());
  LOOM_CHECK(states.size() == 2, "{}: expected 2 states (h, c), got {}", describe(),
             states.size());
  const int64_t H = units();
  Tensor a = add(matmul(dropped_input(x, training), kernel_->value),
                 matmul(dropped_state(states[0], training), recurrent_kernel_->value));
  if (bias_) a = add(a, bias_->value);
  std::vector<Tensor> z = split(a, {H, H, H, H}, 1);
  Tensor i = activate_recurrent(z[0]), f = activate_recurrent(z[1]);
  Tensor g = activate(z[2]), o = activate_recurrent(z[3]);
  Tensor c = add(mul(f, states[1]), mul(i, g));
  Tensor h = mul(o, activate(c));
  return {h, {h, c}};
}

}  // namespace loom
