// Launchers for Loom's own CUDA kernels (cuda_kernels.cu): the element-wise,
// reduction, softmax, embedding and dropout work of Backend
// (backends/backend.h), with the same semantics as the reference backend.
// The fused RNN-step launchers are in rnn_gates_kernels.h. Every pointer in
// the views is device memory; every launcher enqueues on `stream` and
// returns without synchronizing. Launch errors are thrown as loom::Error
// naming the kernel.
#pragma once

#include <cuda_runtime_api.h>

#include "loom/backends/backend.h"

namespace loom::cuda {

void fill(cudaStream_t stream, const StridedView& dst, double value);
void copy(cudaStream_t stream, const StridedView& src, const StridedView& dst);
void unary(cudaStream_t stream, UnaryOp op, const StridedView& src, const StridedView& dst);
void unary_grad(cudaStream_t stream, UnaryOp op, const StridedView& saved, const StridedView& dy,
                const StridedView& dx);
void binary(cudaStream_t stream, BinaryOp op, const StridedView& a, const StridedView& b,
            const StridedView& dst);
void axpby(cudaStream_t stream, double alpha, const StridedView& src, double beta,
           const StridedView& dst);
void where(cudaStream_t stream, const StridedView& cond, const StridedView& a,
           const StridedView& b, const StridedView& dst);
void reduce(cudaStream_t stream, ReduceOp op, const StridedView& src, const StridedView& dst);
void softmax(cudaStream_t stream, const StridedView& src, const StridedView& dst, bool log);
void softmax_grad(cudaStream_t stream, const StridedView& y, const StridedView& dy,
                  const StridedView& dx, bool log);
void gather_rows(cudaStream_t stream, const StridedView& table, const StridedView& ids,
                 const StridedView& dst);
void scatter_add_rows(cudaStream_t stream, const StridedView& src, const StridedView& ids,
                      const StridedView& dtable);
// dst (items, rows, cols) contiguous in `format` (bf16 or f16) = src, a
// (rows, cols) matrix with leading dimension ld per item, items `stride`
// apart: a mixed-precision GEMM's operand, rounded to nearest even.
void to_half_matrix(cudaStream_t stream, const float* src, int64_t rows, int64_t cols, int64_t ld,
                    int64_t stride, int64_t items, DType format, void* dst);
void bernoulli_mask(cudaStream_t stream, const StridedView& dst, double keep_prob, double scale,
                    uint64_t seed, uint64_t offset);

}  // namespace loom::cuda
