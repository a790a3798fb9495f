// StackedRNNCells: cell k's output is cell k+1's input at every step.
//
// Dimension letters: B batch, F input features.
#include "loom/layers/rnn/stacked_cells.h"

namespace loom {

StackedRNNCells::StackedRNNCells(std::vector<CellPtr> cells, std::string name)
    : Cell("StackedRNNCells", std::move(name)), cells_(std::move(cells)) {
  LOOM_CHECK(!cells_.empty(), "{}: needs at least one cell", describe());
  for (size_t k = 0; k < cells_.size(); ++k) {
    LOOM_CHECK(cells_[k] != nullptr, "{}: cell {} is null", describe(), k);
    add_sublayer(cells_[k]);
  }
}

std::shared_ptr<StackedRNNCells> StackedRNNCells::make(std::vector<CellPtr> cells,
                                                       std::string name) {
  return std::make_shared<StackedRNNCells>(std::move(cells), std::move(name));
}

std::vector<int64_t> StackedRNNCells::state_size() const {
  std::vector<int64_t> out;
  for (const CellPtr& c : cells_)
    for (int64_t n : c->state_size()) out.push_back(n);
  return out;
}

int64_t StackedRNNCells::output_size() const { return cells_.back()->output_size(); }

void StackedRNNCells::build(const std::vector<Shape>& input_shapes) {
  int64_t F = input_shapes.at(0).at(1);
  for (const CellPtr& c : cells_) {
    c->build_cell(F, dtype());
    F = c->output_size();
  }
}

// x (B,F), states = cell 0's states, cell 1's states, ... -> last output, new states
CellOutput StackedRNNCells::call(const Tensor& x, const std::vector<Tensor>& states,
                                 bool training) {
  const std::vector<int64_t> sizes = state_size();
  LOOM_CHECK(states.size() == sizes.size(), "{}: expected {} states, got {}", describe(),
             sizes.size(), states.size());
  CellOutput out;
  Tensor input = x;
  size_t at = 0;
  for (const CellPtr& c : cells_) {
    const size_t n = c->state_size().size();
    std::vector<Tensor> own(states.begin() + at, states.begin() + at + n);
    CellOutput o = c->call(input, own, training);
    out.states.insert(out.states.end(), o.states.begin(), o.states.end());
    input = o.output;
    at += n;
  }
  out.output = input;
  return out;
}

void StackedRNNCells::begin_sequence(int64_t batch, bool training) {
  for (const CellPtr& c : cells_) c->begin_sequence(batch, training);
}

std::vector<Tensor> StackedRNNCells::weight_penalties() const {
  std::vector<Tensor> out;
  for (const CellPtr& c : cells_)
    for (const Tensor& t : c->weight_penalties()) out.push_back(t);
  return out;
}

std::shared_ptr<Cell> StackedRNNCells::clone(const std::string& name) const {
  std::vector<CellPtr> copies;
  for (size_t k = 0; k < cells_.size(); ++k)
    copies.push_back(cells_[k]->clone(fmt::format("{}_cell_{}", name, k)));
  return make(std::move(copies), name);
}

}  // namespace loom
