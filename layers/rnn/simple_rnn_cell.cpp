// SimpleRNNCell stepped with autograd ops (the RNN layer runs the fused
// BPTT instead; tests check the two agree).
//
// Dimension letters: B batch, F input features, H units.
#include "loom/layers/rnn/simple_rnn_cell.h"

#include "loom/layers/layer_factory.h"

namespace loom {

SimpleRNNCell::SimpleRNNCell(Options options, std::string name)
    : BuiltinCell("SimpleRNNCell", RnnCellKind::simple_rnn, std::move(options), std::move(name)) {}

std::shared_ptr<SimpleRNNCell> SimpleRNNCell::make(Options options, std::string name) {
  return std::make_shared<SimpleRNNCell>(std::move(options), std::move(name));
}

LayerPtr SimpleRNNCell::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "SimpleRNNCell", name);
  Options o = read_rnn_cell_options(r);
  r.finish();
  return make(o, name);
}

// x (B,F), states {h (B,H)}:  h' = act(x_d W + h_d U + b)
CellOutput SimpleRNNCell::call(const Tensor& x, const std::vector<Tensor>& states,
                               bool training) {
  LOOM_CHECK(built(), "{}: step called before the cell was built", describe());
  LOOM_CHECK(states.size() == 1, "{}: expected 1 state (h), got {}", describe(), states.size());
  Tensor a = add(matmul(dropped_input(x, training), kernel_->value),
                 matmul(dropped_state(states[0], training), recurrent_kernel_->value));
  if (bias_) a = add(a, bias_->value);
  Tensor h = activate(a);
  return {h, {h}};
}

}  // namespace loom
