// LSTMCell (Keras), gates i, f, c, o along the kernels' last axis:
//   i = ra(x W_i + h_d U_i + b_i)   f = ra(...f)   g = act(...c)   o = ra(...o)
//   c' = f c + i g                  h' = o act(c')        output h'
//
// Dimension letters: B batch, F input features, H units.
// Weights: kernel (F,4H), recurrent_kernel (H,4H), bias (4H) (unit_forget_bias
// starts the f block at 1). States: {h (B,H), c (B,H)}.
#pragma once

#include "loom/layers/rnn/cell.h"

namespace loom {

class LSTMCell : public BuiltinCell {
 public:
  explicit LSTMCell(Options options, std::string name = "");
  static std::shared_ptr<LSTMCell> make(Options options, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);
  // x (B,F), states {h, c (B,H)} -> output h' (B,H), states {h', c'}
  CellOutput call(const Tensor& x, const std::vector<Tensor>& states, bool training) override;
  using BuiltinCell::call;
};

}  // namespace loom
