// Backend's default memory functions: host memory, for the CPU backends.
#include "loom/backends/backend.h"

#include <cstring>

#include "loom/backends/cpu_allocator.h"
#include "loom/backends/half.h"

namespace loom {

namespace {
// One operand stored as (rows, cols) with leading dimension ld, `stride`
// apart over the batch, copied contiguously with every element rounded.
void round_operand(const float* src, int64_t rows, int64_t cols, int64_t ld, int64_t stride,
                   int64_t batch, DType format, std::vector<float>& dst) {
  const int64_t items = stride == 0 ? 1 : batch;
  dst.resize(static_cast<size_t>(items * rows * cols));
  float* out = dst.data();
  for (int64_t p = 0; p < items; ++p)
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = src + p * stride + r * ld;
      if (format == DType::bf16)
        for (int64_t c = 0; c < cols; ++c) *out++ = round_to_bf16(row[c]);
      else
        for (int64_t c = 0; c < cols; ++c) *out++ = round_to_f16(row[c]);
    }
}
}  // namespace

RoundedGemmOperands round_gemm_operands(const GemmDesc& d, const float* a, const float* b) {
  LOOM_CHECK(d.dtype == DType::f32 && is_half_float(d.compute),
             "gemm: mixed precision rounds f32 operands to bf16 or f16, got {} to {}",
             dtype_name(d.dtype), dtype_name(d.compute));
  RoundedGemmOperands r;
  r.desc = d;
  r.desc.compute = DType::f32;
  const int64_t a_rows = d.trans_a ? d.K : d.M, a_cols = d.trans_a ? d.M : d.K;
  const int64_t b_rows = d.trans_b ? d.N : d.K, b_cols = d.trans_b ? d.K : d.N;
  round_operand(a, a_rows, a_cols, d.lda, d.stride_a, d.batch, d.compute, r.a);
  round_operand(b, b_rows, b_cols, d.ldb, d.stride_b, d.batch, d.compute, r.b);
  r.desc.lda = a_cols;
  r.desc.ldb = b_cols;
  r.desc.stride_a = d.stride_a == 0 ? 0 : a_rows * a_cols;
  r.desc.stride_b = d.stride_b == 0 ? 0 : b_rows * b_cols;
  return r;
}

void* Backend::allocate(size_t nbytes) {
  void* p = cpu_allocate(nbytes);
  if (!p) fail("backend {}: out of memory allocating {} bytes on the CPU", name(), nbytes);
  return p;
}

void Backend::deallocate(void* p, size_t nbytes) noexcept { cpu_deallocate(p, nbytes); }

void* Backend::allocate_scratch(size_t nbytes, size_t* block_bytes) {
  void* p = cpu_allocate_scratch(nbytes, block_bytes);
  if (!p) fail("backend {}: out of memory allocating {} bytes of scratch on the CPU", name(), nbytes);
  return p;
}

void Backend::release_scratch(void* p, size_t block_bytes) noexcept {
  cpu_deallocate_scratch(p, block_bytes);
}

void Backend::copy_from_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void Backend::copy_to_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

}  // namespace loom
