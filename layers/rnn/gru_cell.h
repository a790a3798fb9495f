// GRUCell (Keras), gates z, r, h along the kernels' last axis:
//   reset_after = true (default; cuDNN's and PyTorch's GRU), bias rows bi, br:
//     z = ra(x W_z + bi_z + h_d U_z + br_z)   r likewise
//     hh = act(x W_h + bi_h + r * (h_d U_h + br_h))
//   reset_after = false:
//     z = ra(x W_z + h_d U_z + b_z)   r likewise   hh = act(x W_h + (r h_d) U_h + b_h)
//   h' = z h + (1 - z) hh   (h not dropped: docs/SEMANTICS.md)      output h'
//
// Dimension letters: B batch, F input features, H units.
// Weights: kernel (F,3H), recurrent_kernel (H,3H), bias (3H), or (2,3H) with
// reset_after (row 0 input bias, row 1 recurrent bias). State: {h (B,H)}.
#pragma once

#include "loom/layers/rnn/cell.h"

namespace loom {

class GRUCell : public BuiltinCell {
 public:
  explicit GRUCell(Options options, std::string name = "");
  static std::shared_ptr<GRUCell> make(Options options, std::string name = "");
  static LayerPtr from_config(const Config& config, const std::string& name);
  // x (B,F), states {h (B,H)} -> output h' (B,H), states {h'}
  CellOutput call(const Tensor& x, const std::vector<Tensor>& states, bool training) override;
  using BuiltinCell::call;
};

}  // namespace loom
