#include "loom/autograd/precision.h"

namespace loom {

namespace {
thread_local DType t_compute = DType::f32;
}

DType compute_precision() { return t_compute; }

ComputePrecisionScope::ComputePrecisionScope(DType compute) : previous_(t_compute) {
  LOOM_CHECK(compute == DType::f32 || is_half_float(compute),
             "ComputePrecisionScope: the compute precision is f32, bf16 or f16, got {}",
             dtype_name(compute));
  t_compute = compute;
}

ComputePrecisionScope::~ComputePrecisionScope() { t_compute = previous_; }

}  // namespace loom
