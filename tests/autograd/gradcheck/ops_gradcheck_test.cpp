// gradcheck of the arithmetic, element-wise, softmax, reduction, matmul and where
// ops, and of composite graphs (shared inputs, an LSTM cell, an unrolled RNN).
#include "test_util.h"

namespace loom {
using test::rand64;

TEST(GradcheckBinary, BroadcastingArithmetic) {
  for (auto [sa, sb] : std::vector<std::pair<Shape, Shape>>{
           {{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{4, 1, 3}, {2, 1}}, {{}, {2, 2}}}) {
    Tensor a = rand64(sa, 1), b = rand64(sb, 2, 0.5, 1.5);
    EXPECT_GRADCHECK(SingleFn([](auto& v) { return add(v[0], v[1]); }), {a, b});
    EXPECT_GRADCHECK(SingleFn([](auto& v) { return sub(v[0], v[1]); }), {a, b});
    EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(v[0], v[1]); }), {a, b});
    EXPECT_GRADCHECK(SingleFn([](auto& v) { return div(v[0], v[1]); }), {a, b});
  }
}

TEST(GradcheckMatmul, TwoDAndBatched) {
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(v[0], v[1]); }),
                   {rand64({3, 4}, 3), rand64({4, 5}, 4)});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(v[0], v[1]); }),
                   {rand64({2, 3, 4}, 5), rand64({2, 4, 2}, 6)});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(v[0], v[1]); }),
                   {rand64({2, 3, 4}, 7), rand64({4, 2}, 8)});
  // Transposed operands go to the GEMM without copies.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(transpose(v[0], 0, 1), v[1]); }),
                   {rand64({4, 3}, 9), rand64({4, 2}, 10)});
}

}  // namespace loom

// ---- the rest of the arithmetic ------------------------------------------------------

namespace loom {
using test::rand64;

TEST(GradcheckBinary, ScalarVariantsAndPow) {
  Tensor x = rand64({2, 3}, 11, 0.5, 2.0);  // positive, for pow and rdiv
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return add(v[0], 1.5); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return sub(v[0], -0.5); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(v[0], -3.0); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return div(v[0], 4.0); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return rsub(2.0, v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return rdiv(2.0, v[0]); }), {x});
  for (double p : {2.0, 3.0, 0.5, -1.5, 1.0})
    EXPECT_GRADCHECK(SingleFn([p](auto& v) { return pow(v[0], p); }), {x});
  // The operators.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return (2.0 - v[0]) * (v[1] / 3.0) + 1.0 / v[0] - -v[1]; }),
                   {x, rand64({3}, 12)});
}

TEST(GradcheckBinary, MaximumMinimumWithBroadcasting) {
  for (auto [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{2, 3}, {2, 3}}, {{2, 3}, {3}},
                                                            {{3, 1}, {1, 4}}, {{2, 2}, {}}}) {
    Tensor a = rand64(sa, 13), b = rand64(sb, 14);
    EXPECT_GRADCHECK(SingleFn([](auto& v) { return maximum(v[0], v[1]); }), {a, b});
    EXPECT_GRADCHECK(SingleFn([](auto& v) { return minimum(v[0], v[1]); }), {a, b});
  }
}

TEST(GradcheckBinary, CompareIsAConstantMask) {
  // x * [x > 0] is relu; compare contributes no gradient of its own.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(v[0], compare(v[0], 0.0, Compare::gt)); }),
                   {rand64({3, 4}, 15)});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(v[1], compare(v[0], v[1], Compare::le)); }),
                   {rand64({3, 4}, 16), rand64({4}, 17)});
}

TEST(GradcheckBinary, SameTensorOnBothSides) {
  Tensor x = rand64({2, 3}, 18, 0.5, 1.5);
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(v[0], v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return add(v[0], v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return div(v[0], add(v[0], v[0])); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(mul(v[0], v[0]), v[0]); }), {x});
  // Broadcast against itself: (2, 3) * (3,) row of the same tensor.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(v[0], select(v[0], 0, 1)); }), {x});
}

// ---- element-wise math ---------------------------------------------------------------

TEST(GradcheckUnary, EveryOp) {
  Tensor x = rand64({3, 4}, 20, -2.0, 2.0);
  Tensor pos = rand64({3, 4}, 21, 0.3, 3.0);
  Tensor wide = rand64({4, 5}, 22, -4.0, 4.0);  // crosses hard_sigmoid's kinks at +-2.5
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return neg(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return exp(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return log(v[0]); }), {pos});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return tanh(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return sigmoid(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return hard_sigmoid(v[0]); }), {wide});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return relu(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return softplus(v[0]); }), {wide});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return sqrt(v[0]); }), {pos});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return square(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return abs(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return sign(v[0]); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return clip(v[0], -1.0, 1.5); }), {x});
  // Large inputs: softplus and sigmoid stay accurate far from 0.
  Tensor big = rand64({6}, 23, 20.0, 40.0);
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return softplus(neg(v[0])); }), {big});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return sigmoid(v[0]); }), {big});
}

TEST(GradcheckUnary, ActivationsByName) {
  Tensor x = rand64({3, 4}, 24, -3.0, 3.0);
  for (const char* name :
       {"linear", "tanh", "sigmoid", "hard_sigmoid", "relu", "softplus", "softmax", "exponential"}) {
    SCOPED_TRACE(name);
    EXPECT_GRADCHECK(SingleFn([name](auto& v) { return activation(v[0], name); }), {x});
  }
}

// ---- softmax -------------------------------------------------------------------------------

TEST(GradcheckSoftmax, EveryAxis) {
  Tensor x = rand64({2, 3, 4}, 30, -2.0, 2.0);
  for (int axis : {-1, 0, 1, 2}) {
    SCOPED_TRACE(axis);
    EXPECT_GRADCHECK(SingleFn([axis](auto& v) { return softmax(v[0], axis); }), {x});
    EXPECT_GRADCHECK(SingleFn([axis](auto& v) { return log_softmax(v[0], axis); }), {x});
  }
  // A non-contiguous input, and softmax of a softmax.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return softmax(transpose(v[0], 0, 2)); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return log_softmax(softmax(v[0], 1), 0); }), {x});
}

// ---- reductions ------------------------------------------------------------------------------

TEST(GradcheckReduce, AxesAndKeepdims) {
  Tensor x = rand64({2, 3, 4}, 40);
  const std::vector<std::vector<int>> axes_list = {{}, {0}, {-1}, {1}, {0, 2}, {2, 0, 1}};
  for (const auto& axes : axes_list)
    for (bool keep : {false, true}) {
      EXPECT_GRADCHECK(SingleFn([&](auto& v) { return sum(v[0], axes, keep); }), {x});
      EXPECT_GRADCHECK(SingleFn([&](auto& v) { return mean(v[0], axes, keep); }), {x});
      EXPECT_GRADCHECK(SingleFn([&](auto& v) { return max(v[0], axes, keep); }), {x});
      EXPECT_GRADCHECK(SingleFn([&](auto& v) { return min(v[0], axes, keep); }), {x});
    }
  // A strided input.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return sum(slice(v[0], 2, 0, 4, 2), {1}); }), {x});
}

// ---- matmul --------------------------------------------------------------------------------

TEST(GradcheckMatmul, TransposedBroadcastAndRepeatedOperands) {
  Tensor a = rand64({3, 3}, 50);
  // The same matrix on both sides, and a^T a.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(v[0], v[0]); }), {a});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(transpose(v[0], 0, 1), v[0]); }), {a});
  // Transposed right operand, batched transposes.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(v[0], transpose(v[1], 0, 1)); }),
                   {rand64({2, 4}, 51), rand64({3, 4}, 52)});
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     return matmul(transpose(v[0], 1, 2), transpose(v[1], 1, 2));
                   }),
                   {rand64({2, 4, 3}, 53), rand64({2, 5, 4}, 54)});
  // Broadcast (stride-0) operands: expand is not recorded, so these check the
  // gradient of the other operand, whose backward multiplies by the
  // (transposed) broadcast view.
  Tensor row = rand64({1, 4}, 55, -1, 1, false), col = rand64({2, 1}, 57, -1, 1, false);
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return matmul(expand(row, {3, 4}), v[0]); }),
                   {rand64({4, 2}, 56)});
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return matmul(v[0], expand(col, {2, 3})); }),
                   {rand64({4, 2}, 58)});
  EXPECT_GRADCHECK(SingleFn([&](auto& v) {
                     return matmul(v[0], expand(reshape(row, {1, 1, 4}), {2, 4, 4}));
                   }),
                   {rand64({2, 3, 4}, 59)});
  // Vector-shaped extremes: (1, K) x (K, 1).
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return matmul(v[0], v[1]); }),
                   {rand64({1, 5}, 60), rand64({5, 1}, 61)});
}

// ---- where ---------------------------------------------------------------------------------

TEST(GradcheckWhere, BroadcastsAllThree) {
  Tensor cond = Tensor::of2d({{1}, {0}}, DType::i32);  // (2, 1)
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return where(cond, v[0], v[1]); }),
                   {rand64({2, 3}, 61), rand64({3}, 62)});
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     return where(compare(v[0], 0.0, Compare::gt), v[0], mul(v[0], 0.1));  // leaky relu
                   }),
                   {rand64({4, 3}, 63)});
  // An f64 condition, and a scalar b.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return where(v[0], v[1], v[2]); }),
                   {Tensor::of({1, 0, 1}, DType::f64), rand64({2, 3}, 64), rand64({}, 65)});
}

// ---- composite graphs ------------------------------------------------------------------------

TEST(GradcheckComposite, TensorFeedingSeveralBranches) {
  // x feeds tanh, sigmoid, a reduction and a matmul; every path must add up.
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     Tensor x = v[0];
                     Tensor t = tanh(x);
                     Tensor branch = add(mul(t, sigmoid(x)), sum(x, {1}, true));
                     return add(matmul(branch, transpose(x, 0, 1)), square(t));
                   }),
                   {rand64({3, 3}, 70)});
}

TEST(GradcheckComposite, LstmCellThroughSplit) {
  // One LSTM step; the gates come from a single split of the projection, and
  // both h and c are outputs.
  const int64_t B = 2, I = 3, H = 4;
  MultiFn cell = [=](const std::vector<Tensor>& v) {
    const Tensor &x = v[0], &h0 = v[1], &c0 = v[2], &W = v[3], &U = v[4], &b = v[5];
    Tensor z = add(add(matmul(x, W), matmul(h0, U)), b);  // (B, 4H)
    std::vector<Tensor> g = split(z, {H, H, H, H}, -1);
    Tensor c = add(mul(sigmoid(g[1]), c0), mul(sigmoid(g[0]), tanh(g[2])));
    Tensor h = mul(sigmoid(g[3]), tanh(c));
    return std::vector<Tensor>{h, c};
  };
  EXPECT_GRADCHECK(cell, {rand64({B, I}, 71), rand64({B, H}, 72), rand64({B, H}, 73),
                          rand64({I, 4 * H}, 74), rand64({H, 4 * H}, 75), rand64({4 * H}, 76)});
}

TEST(GradcheckComposite, UnrolledRnnWithSequenceLoss) {
  // A 3-step tanh RNN sharing W and U across steps, projected to logits and
  // scored with sparse CCE over (B, T, C): weights used at every step.
  const int64_t B = 2, T = 3, I = 2, H = 3, C = 4;
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 3, 1, 2, 2, 0}, {B, T});
  SingleFn rnn = [=](const std::vector<Tensor>& v) {
    const Tensor &x = v[0], &W = v[1], &U = v[2], &b = v[3], &V = v[4];
    Tensor h = Tensor::zeros({B, H}, DType::f64);
    std::vector<Tensor> hs;
    for (int64_t t = 0; t < T; ++t) {
      h = tanh(add(add(matmul(select(x, 1, t), W), matmul(h, U)), b));
      hs.push_back(h);
    }
    Tensor seq = stack(hs, 1);         // (B, T, H)
    Tensor logits = matmul(seq, V);    // (B, T, C), V shared over the batch
    return sparse_categorical_cross_entropy(logits, labels);
  };
  EXPECT_GRADCHECK(rnn, {rand64({B, T, I}, 77), rand64({I, H}, 78), rand64({H, H}, 79),
                         rand64({H}, 80), rand64({H, C}, 81)});
}

}  // namespace loom
