// gradcheck of the arithmetic and matmul ops.
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
