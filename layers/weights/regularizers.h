// Weight regularizers (Keras kernel_regularizer / bias_regularizer):
//   penalty(w) = l1 * sum(|w|) + l2 * sum(w^2)
// A layer adds penalty(weight) to its losses() on every call, recorded on
// the tape, so the training loop's total loss differentiates through it.
#pragma once

#include <string>

#include "loom/autograd/tensor.h"

namespace loom {

struct Regularizer {
  double l1 = 0.0;
  double l2 = 0.0;

  bool active() const { return l1 != 0.0 || l2 != 0.0; }
  // A scalar in w's dtype.
  Tensor penalty(const Tensor& w) const;
  // "l1_l2(l1=0, l2=0.01)" or "none"; Regularizer::parse(str()) restores it.
  std::string str() const;
  // Accepts str()'s output and Keras's "l1", "l2", "l1_l2" (0.01 each),
  // "l2(0.001)", "l1_l2(l1=0.1, l2=0.2)", "none"/"".
  static Regularizer parse(const std::string& spec);
  bool operator==(const Regularizer& o) const { return l1 == o.l1 && l2 == o.l2; }
};

namespace regularizers {
inline Regularizer l1(double v = 0.01) { return {v, 0.0}; }
inline Regularizer l2(double v = 0.01) { return {0.0, v}; }
inline Regularizer l1_l2(double a = 0.01, double b = 0.01) { return {a, b}; }
}  // namespace regularizers

}  // namespace loom
