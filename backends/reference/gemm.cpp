// Blocked, packed GEMM for f32 and f64 (the Goto/BLIS loop nest).
//
//   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
//
// One thread's block of C is computed by, outermost first:
//   jc: NC columns   pc: KC depth    -> pack B (KC x NC) into NR-wide panels
//   ic: MC rows                      -> pack A (MC x KC) into MR-tall panels
//   jr: NR columns   ir: MR rows     -> micro-kernel: an MR x NR tile of C
// The micro-kernel keeps its MR x NR accumulator in vector registers
// (GCC/Clang vector extensions, so -march picks the widest FMA the machine
// has) and reads A and B sequentially from the packed panels.
//
// Threads split C into a grid of independent blocks, never K, and the
// blocking does not depend on the thread count, so every element is summed
// in the same order whatever the number of threads: results are bitwise
// identical across thread counts.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "loom/backends/reference/parallel.h"
#include "loom/backends/reference/kernels.h"
#include "loom/backends/reference/simd.h"

namespace loom::ref {
inline namespace LOOM_ISA_NS {
namespace {

using ref::Simd;

// ---- blocking -------------------------------------------------------------------------

// One blocking of the loop nest. The micro-kernel holds MR x NV vectors of
// accumulators (NR = NV * lanes columns of C).
template <typename T, int MR_, int NV_, int64_t KC_, int64_t MC_>
struct Blocking {
  static constexpr int MR = MR_, NV = NV_, NR = NV_ * Simd<T>::L;
  static constexpr int64_t KC = KC_;    // depth of a packed block
  static constexpr int64_t MC = MC_;    // rows of A per packed block (stays in L2)
  static constexpr int64_t NC = 4096;  // columns of B per packed block
  static_assert(MC % MR == 0);
};

// Chosen by measurement on an AVX-512 Xeon (bench/RESULTS.md), which has 32
// vector registers:
//  - wide: 6 x 4 vectors (24 accumulators, 10 loads per 24 FMAs) and a deep
//    KC, for products with enough rows to amortize packing;
//  - narrow: 8 x 2 vectors for few rows (the recurrent B x H products): 32
//    rows split into whole panels, and 32-wide column panels keep the B rows
//    read in place short.
// With 16 vector registers (AVX2, SSE) the accumulators shrink to fit.
#if defined(__AVX512F__) || defined(__aarch64__)
template <typename T> using WideBlocking = Blocking<T, 6, 4, 384, 96>;
template <typename T> using NarrowBlocking = Blocking<T, 8, 2, 256, 64>;
#else
template <typename T> using WideBlocking = Blocking<T, 6, 2, 256, 96>;
template <typename T> using NarrowBlocking = Blocking<T, 4, 2, 256, 64>;
#endif

// Up to this many rows of C the narrow blocking is used and a row-major B is
// read in place instead of packed: each B element is used only M times, too
// few to repay copying it.
constexpr int64_t kNarrowMaxM = 64;

// ---- scratch ---------------------------------------------------------------------------

// A grow-only, 64-byte aligned buffer: packing reuses it call after call, so
// steady-state GEMMs do not allocate.
class Scratch {
 public:
  template <typename T>
  T* get(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes > cap_) {
      buf_.reset(static_cast<char*>(::operator new(bytes, std::align_val_t{64})));
      cap_ = bytes;
    }
    return reinterpret_cast<T*>(buf_.get());
  }

 private:
  struct Free {
    void operator()(char* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<char, Free> buf_;
  size_t cap_ = 0;
};

struct ThreadScratch {
  Scratch a, b, edge;
};

ThreadScratch& thread_scratch() {
  thread_local ThreadScratch s;
  return s;
}

// ---- packing ------------------------------------------------------------------------------

// A matrix read through row/column strides, so transposes need no copy.
template <typename T>
struct MatRef {
  const T* p;
  int64_t rs, cs;
  const T* at(int64_t r, int64_t c) const { return p + r * rs + c * cs; }
};

// Packs rows [i0, i0+mc) x depth [k0, k0+kc) of A into MR-row panels:
// panel-major, then k, then the MR rows; rows past mc are zero.
template <typename T, typename Blk>
void pack_a(const MatRef<T>& A, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* dst) {
  constexpr int MR = Blk::MR;
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ip));
    if (A.rs == 1) {  // op(A) = A^T: the MR rows of a k step are contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = A.at(i0 + ip, k0 + k);
        for (int r = 0; r < rows; ++r) dst[k * MR + r] = src[r];
        for (int r = rows; r < MR; ++r) dst[k * MR + r] = T(0);
      }
    } else if (rows == MR) {  // MR rows of A read side by side along k
      const T* src[MR];
      for (int r = 0; r < MR; ++r) src[r] = A.at(i0 + ip + r, k0);
      for (int64_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) dst[k * MR + r] = src[r][k * A.cs];
    } else {  // the ragged last panel, row by row
      for (int r = 0; r < rows; ++r) {
        const T* src = A.at(i0 + ip + r, k0);
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + r] = src[k * A.cs];
      }
      for (int r = rows; r < MR; ++r)
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + r] = T(0);
    }
    dst += MR * kc;
  }
}

// Packs one NR-wide panel: depth [k0, k0+kc) x columns [j0, j0+cols) of B,
// k-major, columns past `cols` zero.
template <typename T, typename Blk>
void pack_b_panel(const MatRef<T>& B, int64_t k0, int64_t kc, int64_t j0, int64_t cols, T* dst) {
  constexpr int NR = Blk::NR;
  if (B.cs == 1) {  // row-major B: each k step is a contiguous run
    for (int64_t k = 0; k < kc; ++k) {
      const T* src = B.at(k0 + k, j0);
      if (cols == NR) {
        std::memcpy(dst + k * NR, src, sizeof(T) * NR);
      } else {
        for (int64_t c = 0; c < cols; ++c) dst[k * NR + c] = src[c];
        for (int64_t c = cols; c < NR; ++c) dst[k * NR + c] = T(0);
      }
    }
  } else {  // op(B) = B^T: stored rows run along k, so transpose L x L blocks
    using S = Simd<T>;
    constexpr int L = S::L;
    int64_t k = 0;
    if (B.rs == 1) {
      for (; k + L <= kc; k += L) {
        int64_t c = 0;
        for (; c + L <= cols; c += L) {
          typename S::V x[L];
          for (int r = 0; r < L; ++r) x[r] = S::load(B.at(k0 + k, j0 + c + r));
          S::transpose(x);
          for (int r = 0; r < L; ++r) S::store(dst + (k + r) * NR + c, x[r]);
        }
        for (; c < cols; ++c)
          for (int r = 0; r < L; ++r) dst[(k + r) * NR + c] = *B.at(k0 + k + r, j0 + c);
      }
    }
    for (; k < kc; ++k)
      for (int64_t c = 0; c < cols; ++c) dst[k * NR + c] = *B.at(k0 + k, j0 + c);
    for (k = 0; k < kc; ++k)
      for (int64_t c = cols; c < NR; ++c) dst[k * NR + c] = T(0);
  }
}

// ---- micro-kernel ---------------------------------------------------------------------------

// C tile (ROWS x cols, row stride ldc) = alpha * sum_k a[k] (x) b[k] + beta * C,
// where a is a packed MR-row panel and b advances b_step elements per k (NR
// for a packed panel, ldb when B is read in place). beta == 0 never reads C.
template <typename T, typename Blk, int ROWS>
void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t b_step,
                  T* __restrict c, int64_t ldc, int64_t cols, T alpha, T beta) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int MR = Blk::MR, NV = Blk::NV, NR = Blk::NR, L = S::L;
  V acc[ROWS][NV];
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      const V av = S::splat(a[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fma(av, bv[v], acc[r][v]);
    }
    a += MR;
    b += b_step;
  }
  if (cols == NR) {
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      T* crow = c + r * ldc;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        V x = S::scale(acc[r][v], alpha);
        if (beta != T(0)) x = S::fma(S::load(crow + v * L), S::splat(beta), x);
        S::store(crow + v * L, x);
      }
    }
  } else {  // right edge of C: only `cols` columns exist
    alignas(64) T tmp[ROWS][NR];
    std::memcpy(tmp, acc, sizeof tmp);
    for (int r = 0; r < ROWS; ++r) {
      T* crow = c + r * ldc;
      if (beta == T(0)) {
        for (int64_t j = 0; j < cols; ++j) crow[j] = alpha * tmp[r][j];
      } else {
        for (int64_t j = 0; j < cols; ++j) crow[j] = alpha * tmp[r][j] + beta * crow[j];
      }
    }
  }
}

// micro_kernel for 1 <= rows <= MR, so a ragged last panel does only its rows.
template <typename T, typename Blk, int R = Blk::MR>
void micro_kernel_rows(int rows, int64_t kc, const T* a, const T* b, int64_t b_step, T* c,
                       int64_t ldc, int64_t cols, T alpha, T beta) {
  if (rows == R) {
    micro_kernel<T, Blk, R>(kc, a, b, b_step, c, ldc, cols, alpha, beta);
  } else if constexpr (R > 1) {
    micro_kernel_rows<T, Blk, R - 1>(rows, kc, a, b, b_step, c, ldc, cols, alpha, beta);
  }
}

// ---- one product ------------------------------------------------------------------------------

template <typename T>
struct Problem {
  MatRef<T> A, B;
  T* C;
  int64_t ldc, M, N, K;
  T alpha, beta;
  bool direct_b;  // B is read in place (row-major B, few rows of C)
};

// C[i0:i1, j0:j1] of the problem, single-threaded.
template <typename T, typename Blk>
void gemm_block(const Problem<T>& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  constexpr int MR = Blk::MR, NR = Blk::NR;
  constexpr int64_t KC = Blk::KC, MC = Blk::MC, NC = Blk::NC;
  ThreadScratch& s = thread_scratch();
  const int64_t kc_max = std::min<int64_t>(KC, p.K);
  T* abuf = s.a.get<T>(static_cast<size_t>((std::min<int64_t>(MC, i1 - i0) + MR - 1) / MR * MR *
                                           kc_max));
  T* bbuf = nullptr;
  if (!p.direct_b)
    bbuf = s.b.get<T>(static_cast<size_t>((std::min<int64_t>(NC, j1 - j0) + NR - 1) / NR * NR *
                                          kc_max));
  T* ebuf = p.direct_b ? s.edge.get<T>(static_cast<size_t>(NR * kc_max)) : nullptr;

  for (int64_t jc = j0; jc < j1; jc += NC) {
    const int64_t nc = std::min<int64_t>(NC, j1 - jc);
    const int64_t full = nc / NR * NR;  // columns in whole NR panels
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min<int64_t>(KC, p.K - pc);
      // Later depth blocks add onto what the first one wrote.
      const T beta = pc == 0 ? p.beta : T(1);
      if (!p.direct_b) {
        for (int64_t jr = 0; jr < nc; jr += NR)
          pack_b_panel<T, Blk>(p.B, pc, kc, jc + jr, std::min<int64_t>(NR, nc - jr),
                               bbuf + jr * kc);
      } else if (full < nc) {  // the ragged last panel is packed so no read passes N
        pack_b_panel<T, Blk>(p.B, pc, kc, jc + full, nc - full, ebuf);
      }
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min<int64_t>(MC, i1 - ic);
        pack_a<T, Blk>(p.A, ic, mc, pc, kc, abuf);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t cols = std::min<int64_t>(NR, nc - jr);
          const T* bp;
          int64_t b_step;
          if (!p.direct_b) {
            bp = bbuf + jr * kc;
            b_step = NR;
          } else if (jr < full) {
            bp = p.B.at(pc, jc + jr);
            b_step = p.B.rs;
          } else {
            bp = ebuf;
            b_step = NR;
          }
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            micro_kernel_rows<T, Blk>(rows, kc, abuf + ir * kc, bp, b_step,
                                 p.C + (ic + ir) * p.ldc + jc + jr, p.ldc, cols, p.alpha, beta);
          }
        }
      }
    }
  }
}

// C = beta * C, for products with nothing to add (K == 0 or alpha == 0).
template <typename T>
void scale_c(T* c, int64_t ldc, int64_t M, int64_t N, T beta) {
  for (int64_t i = 0; i < M; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) std::fill(row, row + N, T(0));  // ignores NaN in C
    else if (beta != T(1))
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

struct Grid {
  int tm = 1, tn = 1;
};

// Splits C over up to `threads` threads as tm x tn blocks. Each thread packs
// (or reads) its own A rows and B columns, so the grid minimises the largest
// block's time per unit of K: mt * nt multiply-adds plus mt and nt times the
// cost of packing one element of A and B, in multiply-adds. The costs come
// from profiles on an AVX-512 Xeon: a row-major A packs with strided stores
// (~80), a transposed A or any B with contiguous runs or register
// transposes (~40), and a B read in place still streams through (~20).
template <typename T, typename Blk>
Grid choose_grid(const Problem<T>& p, int threads) {
  constexpr int MR = Blk::MR, NR = Blk::NR;
  const double pack_a = p.A.cs == 1 ? 80 : 40, pack_b = p.direct_b ? 20 : 40;
  const int64_t pm = (p.M + MR - 1) / MR, pn = (p.N + NR - 1) / NR;  // panels
  Grid best;
  double best_cost = -1;
  for (int tm = 1; tm <= threads; ++tm) {
    const int tn = threads / tm;
    if (tm > pm || tn > pn) continue;
    const double mt = static_cast<double>((pm + tm - 1) / tm * MR);
    const double nt = static_cast<double>((pn + tn - 1) / tn * NR);
    const double cost = mt * nt + pack_a * mt + pack_b * nt;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {tm, tn};
    }
  }
  return best;
}

// One product with a given blocking, over up to `threads` threads.
template <typename T, typename Blk>
void gemm_blocked(const Problem<T>& p, int threads) {
  constexpr int MR = Blk::MR, NR = Blk::NR;
  const Grid g = threads > 1 ? choose_grid<T, Blk>(p, threads) : Grid{};
  if (g.tm * g.tn <= 1) {
    gemm_block<T, Blk>(p, 0, p.M, 0, p.N);
    return;
  }
  // Block edges fall on panel boundaries, so the panels (and with them every
  // element's summation order) are the same as with one thread.
  const int64_t pm = (p.M + MR - 1) / MR, pn = (p.N + NR - 1) / NR;
  ref::parallel_for(g.tm * g.tn, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bm = t / g.tn, bn = t % g.tn;
      const int64_t i0 = std::min(p.M, pm * bm / g.tm * MR);
      const int64_t i1 = std::min(p.M, pm * (bm + 1) / g.tm * MR);
      const int64_t j0 = std::min(p.N, pn * bn / g.tn * NR);
      const int64_t j1 = std::min(p.N, pn * (bn + 1) / g.tn * NR);
      if (i0 < i1 && j0 < j1) gemm_block<T, Blk>(p, i0, i1, j0, j1);
    }
  });
}

template <typename T>
void gemm_one(const GemmDesc& d, const T* a, const T* b, T* c, int threads) {
  const T alpha = static_cast<T>(d.alpha), beta = static_cast<T>(d.beta);
  if (d.K <= 0 || alpha == T(0)) {
    scale_c(c, d.ldc, d.M, d.N, beta);
    return;
  }
  Problem<T> p;
  p.A = {a, d.trans_a ? 1 : d.lda, d.trans_a ? d.lda : 1};
  p.B = {b, d.trans_b ? 1 : d.ldb, d.trans_b ? d.ldb : 1};
  p.C = c;
  p.ldc = d.ldc;
  p.M = d.M;
  p.N = d.N;
  p.K = d.K;
  p.alpha = alpha;
  p.beta = beta;
  // The blocking depends on the whole product only (never on the thread
  // count), which keeps results identical across thread counts.
  const bool narrow = d.M <= kNarrowMaxM;
  p.direct_b = narrow && !d.trans_b;
  // About 1 MFLOP per thread repays waking it.
  const double flops = 2.0 * static_cast<double>(d.M) * static_cast<double>(d.N) *
                       static_cast<double>(d.K);
  threads = static_cast<int>(std::clamp<double>(flops / 1e6, 1.0, threads));
  if (narrow) gemm_blocked<T, NarrowBlocking<T>>(p, threads);
  else gemm_blocked<T, WideBlocking<T>>(p, threads);
}

template <typename T>
void gemm_typed(const GemmDesc& d, const T* a, const T* b, T* c) {
  if (d.M <= 0 || d.N <= 0 || d.batch <= 0) return;
  int threads = 1;
#ifdef _OPENMP
  if (!omp_in_parallel()) threads = omp_get_max_threads();
#endif
  const double flops_each = 2.0 * static_cast<double>(d.M) * static_cast<double>(d.N) *
                            static_cast<double>(d.K);
  // Many products that divide evenly: one thread per product. Otherwise
  // threads share each product. Items writing the same C (stride 0) run in
  // order.
  const bool by_item = threads > 1 && d.stride_c != 0 && flops_each * d.batch > 1e6 &&
                       (d.batch % threads == 0 || d.batch >= 4 * threads);
  if (by_item) {
    ref::parallel_for(d.batch, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        gemm_one<T>(d, a + p * d.stride_a, b + p * d.stride_b, c + p * d.stride_c, 1);
    });
  } else {
    for (int64_t p = 0; p < d.batch; ++p)
      gemm_one<T>(d, a + p * d.stride_a, b + p * d.stride_b, c + p * d.stride_c, threads);
  }
}

}  // namespace

void gemm(const GemmDesc& d, const void* a, const void* b, void* c) {
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

}  // namespace LOOM_ISA_NS
}  // namespace loom::ref
