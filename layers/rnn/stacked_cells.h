// StackedRNNCells (Keras): several cells run as one, each step feeding
// cell k's output to cell k+1 as its input.
//
// Dimension letters: B batch, F input features.
// States: the cells' state lists concatenated in order (Keras 2 order);
// output: the last cell's output. Runs through the RNN layer's generic
// (unrolled) path, so any mix of built-in and user cells works:
//   auto cells = StackedRNNCells::make({LSTMCell::make({.units = 8}),
//                                       GRUCell::make({.units = 4})});
//   auto layer = RNN::make(cells, {.return_sequences = true});
#pragma once

#include "loom/layers/rnn/cell.h"

namespace loom {

class StackedRNNCells : public Cell {
 public:
  explicit StackedRNNCells(std::vector<CellPtr> cells, std::string name = "");
  static std::shared_ptr<StackedRNNCells> make(std::vector<CellPtr> cells, std::string name = "");

  std::vector<int64_t> state_size() const override;
  int64_t output_size() const override;
  void build(const std::vector<Shape>& input_shapes) override;
  // x (B,F), states (all cells', in order) -> last cell's output, all new states
  CellOutput call(const Tensor& x, const std::vector<Tensor>& states, bool training) override;
  using Cell::call;
  void begin_sequence(int64_t batch, bool training) override;
  std::vector<Tensor> weight_penalties() const override;
  std::shared_ptr<Cell> clone(const std::string& name) const override;

  const std::vector<CellPtr>& cells() const { return cells_; }

 private:
  std::vector<CellPtr> cells_;
};

}  // namespace loom
