// Element-wise math: neg, exp, log, tanh, sigmoid, hard_sigmoid, relu,
// softplus, sqrt, square, abs, sign, clip, and activations by Keras name.
//
// Shapes: x (S) -> out (S). Each backward is dx = dout * f'(.), computed by
// the backend's unary_grad from y = f(x) (exp, tanh, sigmoid, sqrt) or x.
//   exp' = y   log' = 1/x   tanh' = 1 - y^2   sigmoid' = y (1 - y)
//   hard_sigmoid' = 0.2 on (-2.5, 2.5), else 0   relu' = [x > 0]
//   softplus' = sigmoid(x)   sqrt' = 1 / (2y)   square' = 2x   abs' = sign(x)
#include "loom/autograd/ops.h"
#include "loom/backends/registry.h"

namespace loom {
namespace {

Tensor unary_op(UnaryOp op, const Tensor& x) {
  LOOM_CHECK(is_floating(x.dtype()) || op == UnaryOp::neg || op == UnaryOp::abs ||
                 op == UnaryOp::copy || op == UnaryOp::sign || op == UnaryOp::square,
             "{}: expected a floating tensor, got {} of shape {}", unary_op_name(op),
             dtype_name(x.dtype()), shape_str(x.shape()));
  Backend& be = backend_for(x.device());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  be.unary(op, x.view(), out.view());
  if (!any_requires_grad({x})) return out;
  if (op == UnaryOp::sign) return out;  // piecewise constant: no gradient flows
  Tensor saved = grad_uses_output(op) ? out.detach() : x.detach();
  return record(unary_op_name(op), {x}, out, [op, saved](const Tensor& d) {
    Tensor dx = Tensor::empty(d.shape(), d.dtype(), d.device());
    backend_for(d.device()).unary_grad(op, saved.view(), d.view(), dx.view());
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::neg, x); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::log, x); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::sigmoid, x); }
Tensor hard_sigmoid(const Tensor& x) { return unary_op(UnaryOp::hard_sigmoid, x); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::relu, x); }
Tensor softplus(const Tensor& x) { return unary_op(UnaryOp::softplus, x); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::sqrt, x); }
Tensor square(const Tensor& x) { return unary_op(UnaryOp::square, x); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::abs, x); }
Tensor sign(const Tensor& x) { return unary_op(UnaryOp::sign, x); }

// out = min(max(x, low), high);  dx = dout where low <= x <= high
Tensor clip(const Tensor& x, double low, double high) {
  LOOM_CHECK(low <= high, "clip: low {} is above high {}", low, high);
  return minimum(maximum(x, Tensor::full({}, low, x.dtype(), x.device())),
                 Tensor::full({}, high, x.dtype(), x.device()));
}

Tensor activation(const Tensor& x, const std::string& name) {
  if (name == "linear" || name.empty()) return x;
  if (name == "tanh") return tanh(x);
  if (name == "sigmoid") return sigmoid(x);
  if (name == "hard_sigmoid") return hard_sigmoid(x);
  if (name == "relu") return relu(x);
  if (name == "softplus") return softplus(x);
  if (name == "softmax") return softmax(x, -1);
  if (name == "exponential") return exp(x);
  fail("activation: unknown activation '{}' (expected linear, tanh, sigmoid, hard_sigmoid, relu, "
       "softplus, softmax or exponential)",
       name);
}

}  // namespace loom
