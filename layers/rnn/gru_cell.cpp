// GRUCell stepped with autograd ops (the RNN layer runs the explicit BPTT
// instead; tests check the two agree).
//
// Dimension letters: B batch, F input features, H units; gates z, r, h.
#include "loom/layers/rnn/gru_cell.h"

#include "loom/layers/layer_factory.h"

namespace loom {

GRUCell::GRUCell(Options options, std::string name)
    : BuiltinCell("GRUCell", RnnCellKind::gru, std::move(options), std::move(name)) {}

std::shared_ptr<GRUCell> GRUCell::make(Options options, std::string name) {
  return std::make_shared<GRUCell>(std::move(options), std::move(name));
}

LayerPtr GRUCell::from_config(const Config& config, const std::string& name) {
  ConfigReader r(config, "GRUCell", name);
  Options o = read_rnn_cell_options(r);
  r.finish();
  return make(o, name);
}

// x (B,F), states {h (B,H)}; ax = x_d W (+ input bias), split [z | r | h]:
//   reset_after:  ah = h_d U (+ recurrent bias);  hh = act(ax_h + r ah_h)
//   reset_before: ah_zr = h_d U_zr;               hh = act(ax_h + (r h_d) U_h)
//   z = ra(ax_z + ah_z), r = ra(ax_r + ah_r),     h' = z h + (1 - z) hh
CellOutput GRUCell::call(const Tensor& x, const std::vector<Tensor>& states, bool training) {
  LOOM_CHECK(built(), "{}: step called before the cell was built", describe());
  LOOM_CHECK(states.size() == 1, "{}: expected 1 state (h), got {}", describe(), states.size());
  const int64_t H = units();
  const Tensor& h = states[0];
  const Tensor hd = dropped_state(h, training);
  const Tensor& U = recurrent_kernel_->value;  // (H,3H)
  Tensor ax = matmul(dropped_input(x, training), kernel_->value);
  Tensor hh_pre, z_pre, r_pre;
  if (options_.reset_after) {
    Tensor ah = matmul(hd, U);
    if (bias_) {
      ax = add(ax, select(bias_->value, 0, 0));
      ah = add(ah, select(bias_->value, 0, 1));
    }
    std::vector<Tensor> xs = split(ax, {H, H, H}, 1), hs = split(ah, {H, H, H}, 1);
    z_pre = add(xs[0], hs[0]);
    r_pre = add(xs[1], hs[1]);
    Tensor r = activate_recurrent(r_pre);
    hh_pre = add(xs[2], mul(r, hs[2]));
  } else {
    if (bias_) ax = add(ax, bias_->value);
    std::vector<Tensor> xs = split(ax, {H, H, H}, 1);
    Tensor ah = matmul(hd, slice(U, 1, 0, 2 * H));
    std::vector<Tensor> hs = split(ah, {H, H}, 1);
    z_pre = add(xs[0], hs[0]);
    r_pre = add(xs[1], hs[1]);
    Tensor r = activate_recurrent(r_pre);
    hh_pre = add(xs[2], matmul(mul(r, hd), slice(U, 1, 2 * H, 3 * H)));
  }
  Tensor z = activate_recurrent(z_pre);
  Tensor hh = activate(hh_pre);
  Tensor out = add(mul(z, h), mul(rsub(1.0, z), hh));
  return {out, {out}};
}

}  // namespace loom
