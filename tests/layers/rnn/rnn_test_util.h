// Helpers shared by the recurrent-layer test suites.
//
// Dimension letters: B batch, T timesteps, F input features, H units.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loom/layers/rnn/bptt.h"
#include "test_util.h"

namespace loom::test {

// The four built-in cell variants the suites iterate over.
enum class Kind { simple_rnn, lstm, gru_after, gru_before };

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::simple_rnn: return "SimpleRNN";
    case Kind::lstm: return "LSTM";
    case Kind::gru_after: return "GRU_reset_after";
    case Kind::gru_before: return "GRU_reset_before";
  }
  return "?";
}

inline const std::vector<Kind>& all_kinds() {
  static const std::vector<Kind> k{Kind::simple_rnn, Kind::lstm, Kind::gru_after, Kind::gru_before};
  return k;
}

inline int num_states(Kind k) { return k == Kind::lstm ? 2 : 1; }

// A built-in layer of `kind` with `o` (o.reset_after set from the kind).
inline std::shared_ptr<BuiltinRNN> make_rnn(Kind kind, RecurrentOptions o, const std::string& name = "") {
  switch (kind) {
    case Kind::simple_rnn: return SimpleRNN::make(o, name);
    case Kind::lstm: return LSTM::make(o, name);
    case Kind::gru_after: o.reset_after = true; return GRU::make(o, name);
    case Kind::gru_before: o.reset_after = false; return GRU::make(o, name);
  }
  return nullptr;
}

// Points a layer's parameters at `values` (parameters() order), so that
// gradcheck's perturbed leaves are what the layer computes with.
inline void bind_weights(const Layer& layer, const std::vector<Tensor>& values) {
  std::vector<ParameterPtr> ps = layer.parameters();
  ASSERT_EQ(ps.size(), values.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    ASSERT_EQ(shape_str(ps[i]->value.shape()), shape_str(values[i].shape())) << ps[i]->name;
    ps[i]->value = values[i];
  }
}

// The layer's current weights as fresh f64 leaves that require grad.
inline std::vector<Tensor> weight_leaves(const Layer& layer) {
  std::vector<Tensor> out;
  for (const ParameterPtr& p : layer.parameters())
    out.push_back(p->value.detach().to(DType::f64).clone().set_requires_grad(true));
  return out;
}

// Mask patterns (B,T) of 0/1 in f64, row by row:
//   right: row b keeps its first T-b steps; left: the last T-b steps;
//   holes: alternating gaps; all_masked: row 0 has no step, the others holes.
enum class MaskKind { none, right, left, holes, all_masked, mixed };

inline Tensor make_mask(MaskKind kind, int64_t B, int64_t T) {
  Tensor m = Tensor::ones({B, T}, DType::f64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      bool on = true;
      switch (kind) {
        case MaskKind::none: break;
        case MaskKind::right: on = t < T - b; break;
        case MaskKind::left: on = t >= b; break;
        case MaskKind::holes: on = (t + b) % 3 != 1; break;
        case MaskKind::all_masked: on = b != 0 && (t + b) % 3 != 1; break;
        case MaskKind::mixed:
          on = b % 3 == 0 ? t < T - 2 : b % 3 == 1 ? t >= 2 : (t % 2 == 0);
          break;
      }
      m.set({b, t}, on ? 1.0 : 0.0);
    }
  return m;
}

// max |a - b| / (1 + |b|) over all elements (the parity runner's measure).
inline double rel_error(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    worst = std::max(worst, std::abs(x[i] - y[i]) / (1.0 + std::abs(y[i])));
  return worst;
}

}  // namespace loom::test
