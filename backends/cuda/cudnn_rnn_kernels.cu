// Kernels around the cuDNN RNN call; see cudnn_rnn_kernels.h.
#include "loom/backends/cuda/cudnn_rnn_kernels.h"

#include "loom/backends/cuda/cuda_launch.h"

namespace loom::cuda {
namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// One block row (blockIdx.y) per BlockCopy.
template <typename T>
__global__ void weight_plan_kernel(const cudnn_plan::BlockCopy* plan, T* k0, T* k1, T* k2,
                                   T* space, bool to_space) {
  const cudnn_plan::BlockCopy c = plan[blockIdx.y];
  T* keras = c.src == 0 ? k0 : c.src == 1 ? k1 : k2;
  if (!keras) return;
  const int64_t n = c.rows * c.cols;
  GRID_STRIDE(i, n) {
    const int64_t r = i / c.cols, k = i % c.cols;
    T& a = keras[c.src_offset + r * c.src_row_stride + k * c.src_col_stride];
    T& s = space[c.dst_offset + i];
    if (to_space) s = a;
    else a = s;
  }
}

template <typename T>
__global__ void pack_inputs_kernel(const T* x, const T* mx, RunArrays runs, T* xp, int64_t B,
                                   int64_t T_, int64_t F, bool back) {
  GRID_STRIDE(i, B * T_ * F) {
    const int64_t f = i % F, q = (i / F) % T_, b = i / (F * T_);
    T v = T(0);
    if (q < runs.length[b]) {
      const int64_t t = cudnn_plan::packed_source_time(q, runs.start[b], T_, back);
      v = x[(b * T_ + t) * F + f];
      if (mx) v *= mx[b * F + f];
    }
    xp[i] = v;
  }
}

template <typename T>
__global__ void unpack_outputs_kernel(const T* yp, RunArrays runs, T* y, int64_t B, int64_t T_,
                                      int64_t H, bool seq, bool zofm) {
  const int64_t steps = seq ? T_ : 1;
  GRID_STRIDE(i, B * steps * H) {
    const int64_t h = i % H, k = (i / H) % steps, b = i / (H * steps);
    const int64_t s = seq ? k : T_ - 1;
    const int64_t q = cudnn_plan::output_source(s, runs.start[b], runs.length[b], zofm);
    y[i] = q < 0 ? T(0) : yp[(b * T_ + q) * H + h];
  }
}

template <typename T>
__global__ void select_empty_rows_kernel(const T* src, const T* fallback, RunArrays runs, T* dst,
                                         int64_t B, int64_t H) {
  GRID_STRIDE(i, B * H) {
    const int64_t b = i / H;
    if (runs.length[b] == 0) dst[i] = fallback ? fallback[i] : T(0);
    else dst[i] = src ? src[i] : T(0);
  }
}

template <typename T>
__global__ void pack_output_grads_kernel(const T* dy, RunArrays runs, T* dyp, int64_t B,
                                         int64_t T_, int64_t H, bool seq, bool zofm) {
  GRID_STRIDE(i, B * T_ * H) {
    const int64_t h = i % H, q = (i / H) % T_, b = i / (H * T_);
    const int32_t start = runs.start[b], len = runs.length[b];
    T g = T(0);
    if (seq) {
      const cudnn_plan::StepRange r = cudnn_plan::output_grad_steps(q, start, len, T_, zofm);
      for (int64_t s = r.first; s <= r.last; ++s) g += dy[(b * T_ + s) * H + h];
    } else if (cudnn_plan::output_source(T_ - 1, start, len, zofm) == q) {
      g = dy[b * H + h];
    }
    dyp[i] = g;
  }
}

template <typename T>
__global__ void unpack_input_grads_kernel(const T* dxp, const T* mx, RunArrays runs, T* dx,
                                          int64_t B, int64_t T_, int64_t F, bool back) {
  GRID_STRIDE(i, B * T_ * F) {
    const int64_t f = i % F, t = (i / F) % T_, b = i / (F * T_);
    const int64_t q = cudnn_plan::time_of(t, T_, back) - runs.start[b];  // s - start
    T v = T(0);
    if (q >= 0 && q < runs.length[b]) {
      v = dxp[(b * T_ + q) * F + f];
      if (mx) v *= mx[b * F + f];
    }
    dx[i] = v;
  }
}

}  // namespace

void run_weight_plan(cudaStream_t stream, DType dtype, const cudnn_plan::BlockCopy* plan, int n,
                     int64_t max_block_elems, void* const keras[3], void* space, bool to_space) {
  if (n == 0) return;
  dispatch_floating(dtype, "run_weight_plan", [&](auto tag) {
    using T = decltype(tag);
    dim3 grid(grid_for(max_block_elems), static_cast<unsigned>(n));
    weight_plan_kernel<T><<<grid, kThreads, 0, stream>>>(
        plan, static_cast<T*>(keras[0]), static_cast<T*>(keras[1]), static_cast<T*>(keras[2]),
        static_cast<T*>(space), to_space);
  });
  check_launch("weight_plan_kernel");
}

void pack_inputs(cudaStream_t stream, DType dtype, const void* x, const void* mx, RunArrays runs,
                 void* xp, int64_t B, int64_t T, int64_t F, bool back) {
  dispatch_floating(dtype, "pack_inputs", [&](auto tag) {
    using V = decltype(tag);
    pack_inputs_kernel<V><<<grid_for(B * T * F), kThreads, 0, stream>>>(
        static_cast<const V*>(x), static_cast<const V*>(mx), runs, static_cast<V*>(xp), B, T, F,
        back);
  });
  check_launch("pack_inputs_kernel");
}

void unpack_outputs(cudaStream_t stream, DType dtype, const void* yp, RunArrays runs, void* y,
                    int64_t B, int64_t T, int64_t H, bool seq, bool zofm) {
  dispatch_floating(dtype, "unpack_outputs", [&](auto tag) {
    using V = decltype(tag);
    unpack_outputs_kernel<V><<<grid_for(B * (seq ? T : 1) * H), kThreads, 0, stream>>>(
        static_cast<const V*>(yp), runs, static_cast<V*>(y), B, T, H, seq, zofm);
  });
  check_launch("unpack_outputs_kernel");
}

void select_empty_rows(cudaStream_t stream, DType dtype, const void* src, const void* fallback,
                       RunArrays runs, void* dst, int64_t B, int64_t H) {
  dispatch_floating(dtype, "select_empty_rows", [&](auto tag) {
    using V = decltype(tag);
    select_empty_rows_kernel<V><<<grid_for(B * H), kThreads, 0, stream>>>(
        static_cast<const V*>(src), static_cast<const V*>(fallback), runs, static_cast<V*>(dst),
        B, H);
  });
  check_launch("select_empty_rows_kernel");
}

void pack_output_grads(cudaStream_t stream, DType dtype, const void* dy, RunArrays runs,
                       void* dyp, int64_t B, int64_t T, int64_t H, bool seq, bool zofm) {
  dispatch_floating(dtype, "pack_output_grads", [&](auto tag) {
    using V = decltype(tag);
    pack_output_grads_kernel<V><<<grid_for(B * T * H), kThreads, 0, stream>>>(
        static_cast<const V*>(dy), runs, static_cast<V*>(dyp), B, T, H, seq, zofm);
  });
  check_launch("pack_output_grads_kernel");
}

void unpack_input_grads(cudaStream_t stream, DType dtype, const void* dxp, const void* mx,
                        RunArrays runs, void* dx, int64_t B, int64_t T, int64_t F, bool back) {
  dispatch_floating(dtype, "unpack_input_grads", [&](auto tag) {
    using V = decltype(tag);
    unpack_input_grads_kernel<V><<<grid_for(B * T * F), kThreads, 0, stream>>>(
        static_cast<const V*>(dxp), static_cast<const V*>(mx), runs, static_cast<V*>(dx), B, T,
        F, back);
  });
  check_launch("unpack_input_grads_kernel");
}

}  // namespace loom::cuda
