// The oneDNN backend: GEMM and the hand-off to the fused RNN primitives.
#include "loom/backends/onednn/onednn_backend.h"

#include <algorithm>

#include <oneapi/dnnl/dnnl.h>
#include <fmt/format.h>

#include "loom/backends/onednn/onednn_rnn.h"

namespace loom {

OneDnnBackend::OneDnnBackend() : rnn_(std::make_unique<onednn::RnnRunner>(*this)) {}
OneDnnBackend::~OneDnnBackend() = default;

namespace {

// dnnl_sgemm is row-major like Loom's GemmDesc, but it rejects what BLAS
// rejects: a leading dimension below the stored row length (Loom allows any
// leading dimension for a single row, and 0 to broadcast a row). Those rare
// descriptors, and K = 0 (where dnnl_sgemm leaves C untouched instead of
// scaling it by beta), go to the reference GEMM.
bool sgemm_accepts(const GemmDesc& g) {
  if (g.K <= 0) return false;
  const int64_t a_cols = g.trans_a ? g.M : g.K;  // A is stored (M,K), or (K,M) transposed
  const int64_t b_cols = g.trans_b ? g.K : g.N;
  return g.lda >= std::max<int64_t>(1, a_cols) && g.ldb >= std::max<int64_t>(1, b_cols) &&
         g.ldc >= std::max<int64_t>(1, g.N);
}

}  // namespace

void OneDnnBackend::gemm(const GemmDesc& g, const void* a, const void* b, void* c) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  if (g.dtype == DType::f32 && g.compute != DType::f32) {
    // Mixed precision: oneDNN 2.6 has no bf16 GEMM call (a matmul primitive
    // would be, per shape), so sgemm on rounded copies of the operands.
    const RoundedGemmOperands r =
        round_gemm_operands(g, static_cast<const float*>(a), static_cast<const float*>(b));
    gemm(r.desc, r.a.data(), r.b.data(), c);
    return;
  }
  if (g.dtype != DType::f32 || !sgemm_accepts(g)) {
    reference_gemm(g, a, b, c);  // f64 (oneDNN has no f64 GEMM) and the odd shapes above
    return;
  }
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
  float* C = static_cast<float*>(c);
  // dnnl_sgemm threads each product itself (OpenMP, sharing Loom's thread
  // count), so batch items simply run one after the other.
  for (int64_t p = 0; p < g.batch; ++p) {
    const dnnl_status_t st =
        dnnl_sgemm(g.trans_a ? 'T' : 'N', g.trans_b ? 'T' : 'N', g.M, g.N, g.K,
                   static_cast<float>(g.alpha), A + p * g.stride_a, g.lda, B + p * g.stride_b,
                   g.ldb, static_cast<float>(g.beta), C + p * g.stride_c, g.ldc);
    LOOM_CHECK(st == dnnl_success,
               "onednn gemm: dnnl_sgemm failed (status {}) for M={} N={} K={} lda={} ldb={} "
               "ldc={}",
               static_cast<int>(st), g.M, g.N, g.K, g.lda, g.ldb, g.ldc);
  }
}

bool OneDnnBackend::supports_rnn(const RnnDesc& desc) const { return rnn_->supports(desc); }

RnnForwardResult OneDnnBackend::rnn_forward(const RnnDesc& desc, const RnnForwardArgs& args) {
  return rnn_->forward(desc, args);
}

void OneDnnBackend::rnn_backward(const RnnDesc& desc, const RnnBackwardArgs& args,
                                 RnnWorkspace& workspace) {
  rnn_->backward(desc, args, workspace);
}

size_t OneDnnBackend::cached_rnn_plans() const { return rnn_->cached_plans(); }
size_t OneDnnBackend::rnn_dense_calls() const { return rnn_->stats().dense_calls; }
size_t OneDnnBackend::rnn_packed_calls() const { return rnn_->stats().packed_calls; }
size_t OneDnnBackend::rnn_declined_calls() const { return rnn_->stats().declined_calls; }

std::unique_ptr<Backend> make_onednn_backend() { return std::make_unique<OneDnnBackend>(); }

const char* onednn_version_string() {
  static const std::string s = [] {
    const dnnl_version_t* v = dnnl_version();
    return fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
  }();
  return s.c_str();
}

}  // namespace loom
