// SimpleRNNCell (Keras): h' = act(x W + h_d U + b), output h'.
//
// Dimension letters: B batch, F input features, H units.
// Weights: kernel (F,H), recurrent_kernel (H,H), bias (H). State: {h (B,H)}.
#pragma once

#include "loom/layers/rnn/cell.h"

namespace loom {

class SimpleRNNCell : public BuiltinCell {
 public:
  explicit SimpleRNNCell(Options options, std::string name = "");
  static std::shared_ptr<SimpleRNNCell> make(Options options, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);
  // x (B,F), states {h (B,H)} -> output h' (B,H), states {h'}
  CellOutput call(const Tensor& x, const std::vector<Tensor>& states, bool training) override;
  using BuiltinCell::call;
};

}  // namespace loom
