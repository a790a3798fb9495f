// Differentiable ops. Each records one tape entry when an input requires
// gradients (and grad mode is on). Forward and backward of each op sit side
// by side in autograd/ops/<op>.cpp, with the derivative written above the
// backward.
//
// Shape errors, dtype mismatches and bad axes throw loom::Error naming the op
// and the shapes involved. Binary ops broadcast as NumPy does.
#pragma once

#include <cstdint>
#include <vector>

#include "loom/autograd/tape.h"
#include "loom/autograd/tensor.h"

namespace loom {

// ---- arithmetic with broadcasting (ops/binary.cpp) ------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient to a where a >= b
Tensor minimum(const Tensor& a, const Tensor& b);
// With a scalar (the scalar takes the tensor's dtype).
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rsub(double a, const Tensor& b);  // a - b
Tensor rdiv(double a, const Tensor& b);  // a / b
Tensor pow(const Tensor& a, double exponent);

// Comparisons: not differentiable, 1/0 in a's dtype.
enum class Compare { eq, ne, lt, le, gt, ge };
Tensor compare(const Tensor& a, const Tensor& b, Compare c);
Tensor compare(const Tensor& a, double b, Compare c);

// The shape a and b broadcast to; throws naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sums `t` down to `shape` (the reverse of broadcasting), used by backward.
Tensor sum_to(const Tensor& t, const Shape& shape);
// A broadcast view of t with `shape` (stride 0 on broadcast axes), no copy;
// differentiable (dt = dout summed back to t's shape).
Tensor expand(const Tensor& t, const Shape& shape);
// The same view, not recorded: for handing broadcast operands to kernels.
Tensor broadcast_view(const Tensor& t, const Shape& shape);

// ---- element-wise math (ops/unary.cpp) -----------------------------------------
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor hard_sigmoid(const Tensor& x);  // clip(0.2 x + 0.5, 0, 1)
Tensor relu(const Tensor& x);
Tensor softplus(const Tensor& x);      // log(1 + e^x), stable
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);          // gradient 0
Tensor clip(const Tensor& x, double low, double high);  // gradient 1 inside [low, high]
// Activation by Keras name: "tanh", "sigmoid", "hard_sigmoid", "relu",
// "linear", "softplus", "softmax", "exponential". Throws for unknown names.
Tensor activation(const Tensor& x, const std::string& name);

// ---- softmax over an axis (ops/softmax.cpp) ---------------------------------------
Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

// ---- reductions (ops/reduce.cpp) ---------------------------------------------------
// Over `axes` (negative allowed; empty = all axes).
Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdims = false);
// Max/min over axes; the gradient is shared equally among tied maxima.
Tensor max(const Tensor& x, const std::vector<int>& axes = {}, bool keepdims = false);
Tensor min(const Tensor& x, const std::vector<int>& axes = {}, bool keepdims = false);

// ---- matrix products (ops/matmul.cpp) -----------------------------------------------
// (M,K) x (K,N) -> (M,N); (B,M,K) x (B,K,N) -> (B,M,N); (B,M,K) x (K,N) -> (B,M,N).
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- shape ops (ops/shape.cpp, ops/concat.cpp) ----------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int axis0, int axis1);
Tensor permute(const Tensor& x, const std::vector<int>& axes);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t stop, int64_t step = 1);
Tensor select(const Tensor& x, int axis, int64_t index);
Tensor unsqueeze(const Tensor& x, int axis);
Tensor squeeze(const Tensor& x, int axis);
Tensor flip(const Tensor& x, int axis);  // reverse along an axis (a copy)
Tensor contiguous(const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);  // differentiable between f32 and f64
// A copy on another device (x itself when already there); the gradient is
// copied back to x's device.
Tensor to_device(const Tensor& x, Device device);
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor stack(const std::vector<Tensor>& xs, int axis);
// Splits into pieces of the given sizes along axis (one tape entry, several outputs).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis);
// cond != 0 ? a : b, broadcasting all three; gradients flow to a and b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- embedding lookup (ops/gather.cpp) -------------------------------------------------
// table (V, E), ids of any shape S (i32/i64) -> (S..., E). Ids outside [0, V)
// throw naming the id, its position and V. Backward scatter-adds rows.
Tensor gather_rows(const Tensor& table, const Tensor& ids);

// ---- dropout (ops/dropout.cpp) -----------------------------------------------------------
// Inverted dropout: keeps each element with probability 1 - rate and scales
// kept ones by 1 / (1 - rate); identity when !training or rate == 0.
// `noise_shape` (optional, broadcastable to x) shares one mask along its
// size-1 axes (Keras noise_shape, e.g. (B, 1, F) for SpatialDropout1D).
Tensor dropout(const Tensor& x, double rate, bool training, Generator& gen,
               const Shape& noise_shape = {});
// The mask alone: (1-rate)-Bernoulli scaled by 1/(1-rate), not recorded.
// Its first axis is the batch.
Tensor dropout_mask(const Shape& shape, double rate, DType dtype, Generator& gen,
                    Device device = Device::cpu());
// Data-parallel training: while alive, the batch this thread computes on is
// rows [first_row, first_row + B) of the global batch. A mask whose first
// axis is the batch (dropout without noise_shape or with the batch extent
// in it, dropout_mask) then holds those rows of the global batch's mask, so
// the noise of an example does not depend on how the batch was split.
class BatchRowOffset {
 public:
  explicit BatchRowOffset(int64_t first_row);
  ~BatchRowOffset();
  BatchRowOffset(const BatchRowOffset&) = delete;
  BatchRowOffset& operator=(const BatchRowOffset&) = delete;
  static int64_t current();

 private:
  int64_t previous_;
};

// ---- losses (ops/losses.cpp) -----------------------------------------------------------------
enum class Reduction { mean, sum, none };
// Keras clips probabilities to [eps, 1 - eps] (eps = 1e-7).
Tensor binary_cross_entropy(const Tensor& probs, const Tensor& targets,
                            Reduction reduction = Reduction::mean);
// max(z,0) - z*y + log(1 + e^-|z|): stable for any logit.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::mean);
// logits/probs (N, C), labels (N) i32/i64 in [0, C) (checked, naming the bad label).
// Also (S..., C) with labels (S...) (one loss per row, e.g. (B, T, C) and (B, T)),
// and labels (S..., 1) as Keras accepts.
Tensor sparse_categorical_cross_entropy(const Tensor& logits_or_probs, const Tensor& labels,
                                        bool from_logits = true,
                                        Reduction reduction = Reduction::mean);
Tensor mean_squared_error(const Tensor& pred, const Tensor& target,
                          Reduction reduction = Reduction::mean);

// ---- operators ------------------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator-(double a, const Tensor& b) { return rsub(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator/(double a, const Tensor& b) { return rdiv(a, b); }

}  // namespace loom
