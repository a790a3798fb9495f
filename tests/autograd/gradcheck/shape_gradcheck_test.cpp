// gradcheck of the shape ops, concat/stack/split, gather_rows and dropout.
#include "test_util.h"

namespace loom {
using test::rand64;

TEST(GradcheckShape, ViewsAndCopies) {
  Tensor x = rand64({2, 3, 4}, 100);
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return reshape(v[0], {4, -1}); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return reshape(transpose(v[0], 0, 2), {-1}); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return transpose(v[0], 0, 1); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return permute(v[0], {2, 0, 1}); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return slice(v[0], 2, 1, 4, 2); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return slice(v[0], 1, -2, 3); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return slice(slice(v[0], 2, 0, 4, 3), 0, 1, 2); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return select(v[0], 1, -1); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return unsqueeze(v[0], 1); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return squeeze(slice(v[0], 1, 1, 2), 1); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return flip(v[0], 1); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return flip(transpose(v[0], 1, 2), -1); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return contiguous(permute(v[0], {1, 2, 0})); }), {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return v[0].clone(); }), {x});
  // Overlapping views of one tensor in one graph: both slices send gradient to x.
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     return mul(slice(v[0], 2, 0, 3), slice(v[0], 2, 1, 4));
                   }),
                   {x});
}

TEST(GradcheckShape, CastRoundTrip) {
  // Through f32 and back. Values and steps are multiples of 2^-10 so that
  // every perturbed input is exact in f32 and the differences are exact.
  std::vector<double> grid;
  for (int k = -6; k < 6; ++k) grid.push_back(k / 8.0);
  Tensor x = Tensor::from_vector(grid, {3, 4});
  x.set_requires_grad();
  GradcheckOptions opt;
  opt.eps = 1.0 / 1024;
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return cast(cast(v[0], DType::f32), DType::f64); }), {x},
                   opt);
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return v[0].to(DType::f32).to(DType::f64); }), {x}, opt);
}

TEST(GradcheckConcat, AlongEveryAxis) {
  Tensor a = rand64({2, 3}, 110), b = rand64({2, 1}, 111), c = rand64({2, 2}, 112);
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return concat({v[0], v[1], v[2]}, 1); }), {a, b, c});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return concat({v[0], v[1]}, 0); }),
                   {rand64({1, 3}, 113), rand64({3, 3}, 114)});
  // The same tensor twice, a transposed view, and an empty piece.
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     return concat({v[0], transpose(v[0], 0, 1), Tensor::zeros({3, 0}, DType::f64),
                                    v[0]},
                                   -1);
                   }),
                   {rand64({3, 3}, 115)});
  // Only some inputs need gradients.
  Tensor fixed = rand64({2, 2}, 116, -1, 1, /*requires_grad=*/false);
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return concat({fixed, v[0]}, 0); }), {rand64({1, 2}, 117)});
}

TEST(GradcheckConcat, Stack) {
  Tensor a = rand64({2, 3}, 120), b = rand64({2, 3}, 121);
  for (int axis : {0, 1, 2, -1}) {
    SCOPED_TRACE(axis);
    EXPECT_GRADCHECK(SingleFn([axis](auto& v) { return stack({v[0], v[1], v[0]}, axis); }), {a, b});
  }
}

TEST(GradcheckConcat, SplitIsMultiOutput) {
  Tensor x = rand64({3, 7}, 130);
  // Every output checked at once (gradcheck contracts each with its own cotangent).
  EXPECT_GRADCHECK(MultiFn([](auto& v) { return split(v[0], {2, 0, 4, 1}, 1); }), {x});
  EXPECT_GRADCHECK(MultiFn([](auto& v) { return split(v[0], {1, 2}, 0); }), {x});
  // Only one output used downstream: the others' cotangents are zeros.
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return tanh(split(v[0], {3, 4}, -1)[1]); }), {x});
  // Outputs recombined in another order and reused.
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     std::vector<Tensor> p = split(v[0], {3, 4}, 1);
                     Tensor swapped = concat({p[1], p[0]}, 1);
                     return mul(swapped, sum(p[0], {1}, true));
                   }),
                   {x});
  // Splitting a non-contiguous view.
  EXPECT_GRADCHECK(MultiFn([](auto& v) { return split(transpose(v[0], 0, 1), {5, 2}, 0); }), {x});
}

TEST(GradcheckGather, RepeatedIdsAccumulate) {
  Tensor table = rand64({5, 3}, 140);
  Tensor ids64 = Tensor::from_vector(std::vector<int64_t>{4, 0, 4, 2, 4, 0}, {2, 3});
  Tensor ids32 = Tensor::from_vector(std::vector<int32_t>{1, 1, 3});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return gather_rows(v[0], v[1]); }), {table, ids64});
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return gather_rows(v[0], v[1]); }), {table, ids32});
  // (B, T) ids into an embedding followed by a matmul, as an Embedding layer feeds an RNN.
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return matmul(gather_rows(v[0], ids64), v[1]); }),
                   {table, rand64({3, 2}, 141)});
  // A table that is itself computed (gradient flows through the gather into it).
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return gather_rows(tanh(transpose(v[0], 0, 1)), ids32); }),
                   {rand64({3, 5}, 142)});
}

TEST(GradcheckDropout, FixedSeedMask) {
  Tensor x = rand64({4, 6}, 150);
  // A fresh generator per call, so every evaluation draws the same mask.
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     Generator gen(99);
                     return dropout(v[0], 0.4, true, gen);
                   }),
                   {x});
  EXPECT_GRADCHECK(SingleFn([](auto& v) {
                     Generator gen(100);
                     return dropout(tanh(v[0]), 0.25, true, gen, {1, 6});
                   }),
                   {x});
  Generator unused(1);
  EXPECT_GRADCHECK(SingleFn([&](auto& v) { return dropout(v[0], 0.5, false, unused); }), {x});
}

}  // namespace loom

namespace loom {
// expand is a recorded view: the gradient sums back over the broadcast axes.
TEST(GradcheckShape, ExpandSumsOverBroadcastAxes) {
  EXPECT_GRADCHECK(SingleFn([](auto& v) { return mul(expand(v[0], {4, 2, 3}), v[1]); }),
                   {test::rand64({2, 1}, 31), test::rand64({4, 2, 3}, 32)});
}
}  // namespace loom
