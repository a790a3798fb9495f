// This variant's kernel table (compiled once per instruction-set variant,
// like every kernel it lists; kernels.h).
#include "loom/backends/reference/kernels.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {

const KernelTable& kernel_table() {
  static const KernelTable table = {
      &fill,           &copy,          &unary,       &unary_grad,       &binary,
      &axpby,          &where,         &reduce,      &gemm,             &softmax,
      &softmax_grad,   &gather_rows,   &scatter_add_rows, &bernoulli_mask, &rnn_gates_forward,
      &rnn_gates_backward, &adam_span<float>, &adam_span<double>,
  };
  return table;
}

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
