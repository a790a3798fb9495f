// Blocked, packed GEMM for f32 and f64 (the classic Goto/BLIS loop nest).
//
//   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
//
// B is packed into KC x NR column panels and A into MR x KC row panels, so
// the micro-kernel reads both sequentially; its MR x NR accumulator lives in
// registers and the inner j-loop is written for the compiler's
// auto-vectorizer (the -march flags are chosen at configure time). Work is
// split over threads by (M block, N chunk) tiles, or by batch item for
// batched products with enough items.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/reference/parallel.h"
#include "backends/reference/reference_backend.h"

namespace loom {
namespace {

template <typename T> struct Tile;
template <> struct Tile<float> { static constexpr int MR = 6, NR = 16; };
template <> struct Tile<double> { static constexpr int MR = 6, NR = 8; };

constexpr int64_t KC = 256;  // depth of a packed block: A and B panels stay in L1/L2
constexpr int64_t MC = 72;   // rows of A per block (multiple of MR)

// A matrix read through row/column strides, so transposes need no copy.
template <typename T>
struct MatRef {
  const T* p;
  int64_t rs, cs;
  T operator()(int64_t r, int64_t c) const { return p[r * rs + c * cs]; }
};

// Packs rows [i0, i0+mc) x depth [k0, k0+kc) of A into MR-row panels:
// panel-major, then k, then the MR rows; missing rows are zero.
template <typename T>
void pack_a(const MatRef<T>& A, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* dst) {
  constexpr int MR = Tile<T>::MR;
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - ip);
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t r = 0; r < rows; ++r) dst[r] = A(i0 + ip + r, k0 + k);
      for (int64_t r = rows; r < MR; ++r) dst[r] = T(0);
      dst += MR;
    }
  }
}

// Packs depth [k0, k0+kc) x columns [j0, j0+nc) of B into NR-column panels.
template <typename T>
void pack_b(const MatRef<T>& B, int64_t k0, int64_t kc, int64_t j0, int64_t nc, T* dst) {
  constexpr int NR = Tile<T>::NR;
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    for (int64_t k = 0; k < kc; ++k) {
      if (B.cs == 1 && cols == NR) {
        std::memcpy(dst, B.p + (k0 + k) * B.rs + (j0 + jp), sizeof(T) * NR);
      } else {
        for (int64_t c = 0; c < cols; ++c) dst[c] = B(k0 + k, j0 + jp + c);
        for (int64_t c = cols; c < NR; ++c) dst[c] = T(0);
      }
      dst += NR;
    }
  }
}

// acc (MR,NR) = sum_k a[k] (MR) outer b[k] (NR)
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b,
                         T* __restrict acc) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  T c[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int r = 0; r < MR; ++r) {
      const T av = a[r];
      for (int j = 0; j < NR; ++j) c[r][j] += av * b[j];
    }
    a += MR;
    b += NR;
  }
  std::memcpy(acc, c, sizeof(c));
}

// One (M block x N chunk) tile of C, all of K. Packs its own A and B panels.
template <typename T>
void gemm_tile(const MatRef<T>& A, const MatRef<T>& B, T* C, int64_t ldc, int64_t K, int64_t i0,
               int64_t mc, int64_t j0, int64_t nc, T alpha, T beta) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  thread_local std::vector<T> abuf, bbuf;
  const int64_t mc_pad = (mc + MR - 1) / MR * MR, nc_pad = (nc + NR - 1) / NR * NR;
  abuf.resize(static_cast<size_t>(mc_pad * KC));
  bbuf.resize(static_cast<size_t>(nc_pad * KC));
  T acc[MR * NR];
  for (int64_t k0 = 0; k0 < K || k0 == 0; k0 += KC) {
    const int64_t kc = std::min<int64_t>(KC, K - k0);
    if (kc > 0) {
      pack_a(A, i0, mc, k0, kc, abuf.data());
      pack_b(B, k0, kc, j0, nc, bbuf.data());
    }
    const bool first = k0 == 0;
    for (int64_t jp = 0; jp < nc; jp += NR) {
      const int64_t cols = std::min<int64_t>(NR, nc - jp);
      for (int64_t ip = 0; ip < mc; ip += MR) {
        const int64_t rows = std::min<int64_t>(MR, mc - ip);
        if (kc > 0) micro_kernel<T>(kc, abuf.data() + ip * kc, bbuf.data() + jp * kc, acc);
        else std::fill(acc, acc + MR * NR, T(0));
        for (int64_t r = 0; r < rows; ++r) {
          T* crow = C + (i0 + ip + r) * ldc + j0 + jp;
          const T* arow = acc + r * NR;
          if (!first) {
            for (int64_t j = 0; j < cols; ++j) crow[j] += alpha * arow[j];
          } else if (beta == T(0)) {
            for (int64_t j = 0; j < cols; ++j) crow[j] = alpha * arow[j];
          } else {
            for (int64_t j = 0; j < cols; ++j) crow[j] = alpha * arow[j] + beta * crow[j];
          }
        }
      }
    }
    if (K <= 0) break;
  }
}

template <typename T>
void gemm_one(const GemmDesc& d, const T* a, const T* b, T* c, bool allow_threads) {
  constexpr int NR = Tile<T>::NR;
  const MatRef<T> A{a, d.trans_a ? 1 : d.lda, d.trans_a ? d.lda : 1};
  const MatRef<T> B{b, d.trans_b ? 1 : d.ldb, d.trans_b ? d.ldb : 1};
  const T alpha = static_cast<T>(d.alpha), beta = static_cast<T>(d.beta);
  const int64_t m_blocks = (d.M + MC - 1) / MC;
  // Enough N chunks that every thread gets a tile, each a multiple of NR wide.
  int threads = 1;
#ifdef _OPENMP
  if (allow_threads) threads = omp_get_max_threads();
#endif
  const double flops = 2.0 * d.M * d.N * d.K;
  if (flops < 2e5) threads = 1;  // too small to be worth waking threads
  int64_t n_chunks = std::max<int64_t>(1, (threads + m_blocks - 1) / m_blocks);
  int64_t chunk = (d.N + n_chunks - 1) / n_chunks;
  chunk = std::max<int64_t>(NR, (chunk + NR - 1) / NR * NR);
  n_chunks = (d.N + chunk - 1) / chunk;
  const int64_t tiles = m_blocks * n_chunks;
  auto run = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t mb = t / n_chunks, nb = t % n_chunks;
      const int64_t i0 = mb * MC, mc = std::min<int64_t>(MC, d.M - i0);
      const int64_t j0 = nb * chunk, nc = std::min<int64_t>(chunk, d.N - j0);
      gemm_tile<T>(A, B, c, d.ldc, d.K, i0, mc, j0, nc, alpha, beta);
    }
  };
  if (threads > 1) ref::parallel_for(tiles, 1, run);
  else run(0, tiles);
}

template <typename T>
void gemm_typed(const GemmDesc& d, const T* a, const T* b, T* c) {
  if (d.M <= 0 || d.N <= 0) return;
  const double flops_each = 2.0 * d.M * d.N * d.K;
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  // Many small products: one per thread. Otherwise thread inside each one.
  if (d.batch >= threads && threads > 1 && flops_each * d.batch > 2e5) {
    ref::parallel_for(d.batch, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        gemm_one<T>(d, a + p * d.stride_a, b + p * d.stride_b, c + p * d.stride_c, false);
    });
  } else {
    for (int64_t p = 0; p < d.batch; ++p)
      gemm_one<T>(d, a + p * d.stride_a, b + p * d.stride_b, c + p * d.stride_c, true);
  }
}

}  // namespace

void reference_gemm(const GemmDesc& d, const void* a, const void* b, void* c) {
  switch (d.dtype) {
    case DType::f32:
      gemm_typed<float>(d, static_cast<const float*>(a), static_cast<const float*>(b),
                        static_cast<float*>(c));
      return;
    case DType::f64:
      gemm_typed<double>(d, static_cast<const double*>(a), static_cast<const double*>(b),
                         static_cast<double*>(c));
      return;
    default: fail("gemm: expected f32 or f64, got {}", dtype_name(d.dtype));
  }
}

}  // namespace loom
