// The CUDA backend: device memory from a caching allocator, one stream per
// device, cuBLAS GEMMs, Loom's own kernels (cuda_kernels.cu) and cuDNN
// RNNs (cudnn_rnn.cpp), with the explicit BPTT for what cuDNN cannot run.
#include "loom/backends/cuda/cuda_backend.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "loom/backends/buffer.h"
#include "loom/backends/cuda/adam_kernel.h"
#include "loom/backends/cuda/cuda_allocator.h"
#include "loom/backends/cuda/cuda_check.h"
#include "loom/backends/cuda/cuda_kernels.h"
#include "loom/backends/cuda/cudnn_rnn.h"
#include "loom/backends/cuda/rnn_gates_kernels.h"
#include "loom/backends/registry.h"

namespace loom {

namespace cuda {
void throw_cuda_error(const char* library, const char* call, const char* message,
                      const char* file, int line) {
  fail("{} error: {} failed: {} ({}:{})", library, call, message, file, line);
}
}  // namespace cuda

namespace {

std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> on = [] {
    const char* env = std::getenv("LOOM_CUDA_TF32");
    return env && std::string(env) == "1";
  }();
  return on;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index), allocator_(index) {
    const cuda::DeviceGuard guard(index_);
    LOOM_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    // Long reductions take scratch from the stream-ordered pool
    // (cudaMallocAsync); keep what it frees instead of returning it to the
    // driver at every synchronization, so steady-state steps allocate nothing.
    cudaMemPool_t pool = nullptr;
    LOOM_CUDA(cudaDeviceGetDefaultMemPool(&pool, index_));
    uint64_t keep = UINT64_MAX;
    LOOM_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    LOOM_CUBLAS(cublasCreate(&cublas_));
    LOOM_CUBLAS(cublasSetStream(cublas_, stream_));
    rnn_ = std::make_unique<cuda::CudnnRnn>(*this, stream_);
  }
  ~CudaBackend() override {
    rnn_.reset();
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  const char* name() const override { return "cuda"; }
  DeviceKind device_kind() const override { return DeviceKind::cuda; }
  int device_index() const override { return index_; }

  // ---- memory ------------------------------------------------------------------
  void* allocate(size_t nbytes) override { return allocator_.allocate(nbytes); }
  void deallocate(void* p, size_t nbytes) noexcept override { allocator_.deallocate(p, nbytes); }
  // Scratch comes from the same caching allocator (it already reuses blocks).
  void* allocate_scratch(size_t nbytes, size_t* block_bytes) override {
    *block_bytes = nbytes;
    return allocate(nbytes);
  }
  void release_scratch(void* p, size_t block_bytes) noexcept override { deallocate(p, block_bytes); }
  void copy_from_host(const void* src, void* dst, size_t nbytes) override {
    const cuda::DeviceGuard guard(index_);
    if (!nbytes) return;
    LOOM_CUDA(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream_));
    // Pageable host memory: wait, so the caller may reuse `src` at once.
    LOOM_CUDA(cudaStreamSynchronize(stream_));
  }
  void copy_to_host(const void* src, void* dst, size_t nbytes) override {
    const cuda::DeviceGuard guard(index_);
    if (!nbytes) return;
    LOOM_CUDA(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream_));
    LOOM_CUDA(cudaStreamSynchronize(stream_));
  }
  void synchronize() override {
    const cuda::DeviceGuard guard(index_);
    LOOM_CUDA(cudaStreamSynchronize(stream_));
  }
  cuda::CachingAllocator& allocator() { return allocator_; }

  // ---- element-wise, reductions, softmax, embedding, dropout ----------------------
  void fill(const StridedView& dst, double v) override {
    const cuda::DeviceGuard guard(index_);
    cuda::fill(stream_, dst, v);
  }
  void copy(const StridedView& src, const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::copy(stream_, src, dst);
  }
  void unary(UnaryOp op, const StridedView& src, const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::unary(stream_, op, src, dst);
  }
  void unary_grad(UnaryOp op, const StridedView& saved, const StridedView& dy,
                  const StridedView& dx) override {
    const cuda::DeviceGuard guard(index_);
    cuda::unary_grad(stream_, op, saved, dy, dx);
  }
  void binary(BinaryOp op, const StridedView& a, const StridedView& b,
              const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::binary(stream_, op, a, b, dst);
  }
  void axpby(double alpha, const StridedView& src, double beta, const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::axpby(stream_, alpha, src, beta, dst);
  }
  void where(const StridedView& cond, const StridedView& a, const StridedView& b,
             const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::where(stream_, cond, a, b, dst);
  }
  void reduce(ReduceOp op, const StridedView& src, const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::reduce(stream_, op, src, dst);
  }
  void softmax(const StridedView& src, const StridedView& dst, bool log) override {
    const cuda::DeviceGuard guard(index_);
    cuda::softmax(stream_, src, dst, log);
  }
  void softmax_grad(const StridedView& y, const StridedView& dy, const StridedView& dx,
                    bool log) override {
    const cuda::DeviceGuard guard(index_);
    cuda::softmax_grad(stream_, y, dy, dx, log);
  }
  void gather_rows(const StridedView& table, const StridedView& ids,
                   const StridedView& dst) override {
    const cuda::DeviceGuard guard(index_);
    cuda::gather_rows(stream_, table, ids, dst);
  }
  void scatter_add_rows(const StridedView& src, const StridedView& ids,
                        const StridedView& dtable) override {
    const cuda::DeviceGuard guard(index_);
    cuda::scatter_add_rows(stream_, src, ids, dtable);
  }
  void bernoulli_mask(const StridedView& dst, double keep_prob, double scale, uint64_t seed,
                      uint64_t offset) override {
    const cuda::DeviceGuard guard(index_);
    cuda::bernoulli_mask(stream_, dst, keep_prob, scale, seed, offset);
  }

  bool adam_update(const AdamUpdate& u) override {
    const cuda::DeviceGuard guard(index_);
    cuda::adam_update(stream_, u);
    return true;
  }

  // ---- GEMM --------------------------------------------------------------------------
  // cuBLAS is column-major: the row-major C = op(A) op(B) is the column-major
  // C^T = op(B)^T op(A)^T, so A and B swap places and keep their flags.
  void gemm(const GemmDesc& g, const void* a, const void* b, void* c) override {
    const cuda::DeviceGuard guard(index_);
    if (g.M == 0 || g.N == 0 || g.batch == 0) return;
    LOOM_CHECK(g.dtype == DType::f32 || g.dtype == DType::f64,
               "cuda gemm: expected f32 or f64, got {}", dtype_name(g.dtype));
    const cublasOperation_t opa = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int M = checked_int(g.M, "M"), N = checked_int(g.N, "N"), K = checked_int(g.K, "K");
    // cuBLAS wants ld >= the column-major row count even for empty or single-column operands.
    const int lda = std::max(checked_int(g.lda, "lda"), std::max(1, g.trans_a ? M : K));
    const int ldb = std::max(checked_int(g.ldb, "ldb"), std::max(1, g.trans_b ? K : N));
    const int ldc = std::max(checked_int(g.ldc, "ldc"), std::max(1, N));
    if (g.dtype == DType::f32 && g.compute != DType::f32) {
      mixed_gemm(g, a, b, c);
      return;
    }
    if (g.dtype == DType::f32) {
      const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
      LOOM_CUBLAS(cublasSetMathMode(cublas_, cuda_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH
                                                         : CUBLAS_DEFAULT_MATH));
      LOOM_CUBLAS(cublasSgemmStridedBatched(
          cublas_, opb, opa, N, M, K, &alpha, static_cast<const float*>(b), ldb, g.stride_b,
          static_cast<const float*>(a), lda, g.stride_a, &beta, static_cast<float*>(c), ldc,
          g.stride_c, checked_int(g.batch, "batch")));
    } else {
      const double alpha = g.alpha, beta = g.beta;
      LOOM_CUBLAS(cublasDgemmStridedBatched(
          cublas_, opb, opa, N, M, K, &alpha, static_cast<const double*>(b), ldb, g.stride_b,
          static_cast<const double*>(a), lda, g.stride_a, &beta, static_cast<double*>(c), ldc,
          g.stride_c, checked_int(g.batch, "batch")));
    }
  }

  // Mixed precision on tensor cores: A and B converted to contiguous bf16 or
  // f16 copies, then cublasGemmStridedBatchedEx with f32 output and f32
  // accumulation (CUBLAS_COMPUTE_32F).
  void mixed_gemm(const GemmDesc& g, const void* a, const void* b, void* c) {
    const int64_t a_rows = g.trans_a ? g.K : g.M, a_cols = g.trans_a ? g.M : g.K;
    const int64_t b_rows = g.trans_b ? g.N : g.K, b_cols = g.trans_b ? g.K : g.N;
    const int64_t a_items = g.stride_a == 0 ? 1 : g.batch, b_items = g.stride_b == 0 ? 1 : g.batch;
    const size_t a_bytes = static_cast<size_t>(a_items * a_rows * a_cols) * 2;
    const size_t b_bytes = static_cast<size_t>(b_items * b_rows * b_cols) * 2;
    Buffer ha(*this, std::max<size_t>(a_bytes, 2)), hb(*this, std::max<size_t>(b_bytes, 2));
    cuda::to_half_matrix(stream_, static_cast<const float*>(a), a_rows, a_cols, g.lda, g.stride_a,
                         a_items, g.compute, ha.data());
    cuda::to_half_matrix(stream_, static_cast<const float*>(b), b_rows, b_cols, g.ldb, g.stride_b,
                         b_items, g.compute, hb.data());
    const cudaDataType_t in_type = g.compute == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    const int M = checked_int(g.M, "M"), N = checked_int(g.N, "N"), K = checked_int(g.K, "K");
    const int lda = std::max(1, checked_int(a_cols, "lda")), ldb = std::max(1, checked_int(b_cols, "ldb"));
    const int ldc = std::max(checked_int(g.ldc, "ldc"), std::max(1, N));
    LOOM_CUBLAS(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    LOOM_CUBLAS(cublasGemmStridedBatchedEx(
        cublas_, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M,
        K, &alpha, hb.data(), in_type, ldb, g.stride_b == 0 ? 0 : b_rows * b_cols, ha.data(),
        in_type, lda, g.stride_a == 0 ? 0 : a_rows * a_cols, &beta, c, CUDA_R_32F, ldc,
        g.stride_c, checked_int(g.batch, "batch"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    // ha and hb go back to the caching allocator on return; the stream
    // orders their reuse after this GEMM (stream-ordered, as every scratch).
  }

  // ---- recurrent layers ------------------------------------------------------------------
  void rnn_gates_forward(const RnnDesc& d, const RnnStepForward& s) override {
    const cuda::DeviceGuard guard(index_);
    cuda::rnn_gates_forward(stream_, d, s);
  }
  void rnn_gates_backward(const RnnDesc& d, const RnnStepBackward& s) override {
    const cuda::DeviceGuard guard(index_);
    cuda::rnn_gates_backward(stream_, d, s);
  }
  bool supports_rnn(const RnnDesc& d) const override {
    return cudnn_plan::unsupported_reason(d).empty();
  }
  RnnForwardResult rnn_forward(const RnnDesc& d, const RnnForwardArgs& a) override {
    const cuda::DeviceGuard guard(index_);
    return rnn_->forward(d, a);
  }
  void rnn_backward(const RnnDesc& d, const RnnBackwardArgs& a, RnnWorkspace& ws) override {
    const cuda::DeviceGuard guard(index_);
    rnn_->backward(d, a, ws);
  }

  cudaStream_t stream() const { return stream_; }

 private:
  static int checked_int(int64_t v, const char* what) {
    LOOM_CHECK(v >= 0 && v <= INT32_MAX, "cuda gemm: {} = {} does not fit cuBLAS's int", what, v);
    return static_cast<int>(v);
  }

  int index_;
  cuda::CachingAllocator allocator_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<cuda::CudnnRnn> rnn_;
};

}  // namespace

int cuda_visible_devices() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver or no device: not an error for a CPU run
      return 0;
    }
    return n;
  }();
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(int index) { return std::make_unique<CudaBackend>(index); }

void set_cuda_tf32(bool on) { tf32_flag() = on; }
bool cuda_tf32() { return tf32_flag(); }

CudaMemoryStats cuda_memory_stats(int index) {
  auto& be = static_cast<CudaBackend&>(backend_for(Device::cuda(index)));
  return be.allocator().stats();
}

void* cuda_stream(int index) {
  auto& be = static_cast<CudaBackend&>(backend_for(Device::cuda(index)));
  return be.stream();
}

void cuda_empty_cache(int index) {
  auto& be = static_cast<CudaBackend&>(backend_for(Device::cuda(index)));
  be.allocator().empty_cache();
}

}  // namespace loom
