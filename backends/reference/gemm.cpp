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
#include <type_traits>
#include <utility>

#include "backends/reference/parallel.h"
#include "backends/reference/reference_backend.h"

namespace loom {
namespace {

// ---- vectors ------------------------------------------------------------------------

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif

#if defined(__GNUC__)
// A native vector of T; a * b + c compiles to an FMA (GCC and Clang contract
// by default outside ISO C).
template <typename T>
struct Simd {
  static constexpr int L = kVecBytes / static_cast<int>(sizeof(T));
  typedef T V __attribute__((vector_size(kVecBytes)));
  // The same vector at T's alignment, for unaligned loads and stores.
  typedef T U __attribute__((vector_size(kVecBytes), aligned(sizeof(T)), may_alias));
  static V zero() { return V{}; }
  static V splat(T x) { return x - V{}; }  // x - 0 == x exactly (V{} + x is not, for -0)
  static V load(const T* p) { return *reinterpret_cast<const U*>(p); }
  static void store(T* p, V v) { *reinterpret_cast<U*>(p) = v; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V scale(V v, T s) { return v * s; }
  // Transposes the L x L block whose rows are x[0..L). Stage b swaps bit b of
  // the row index with bit b of the column index, so log2(L) stages of
  // two-source shuffles do it all in registers.
  static void transpose(V (&x)[L]) {
#if defined(__clang__)
    transpose_via_memory(x);
#else
    transpose_stage<1>(x, std::make_index_sequence<L>{});
#endif
  }
#if !defined(__clang__)
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> IT;
  typedef IT I __attribute__((vector_size(kVecBytes)));
  // Rows r (bit b clear) and r | b of stage b's result, as shuffle indices
  // into the pair (x[r], x[r | b]); compile-time constants so GCC emits one
  // permute per row.
  template <int b, size_t... c>
  static void transpose_stage(V (&x)[L], std::index_sequence<c...> cs) {
    constexpr I lo = {static_cast<IT>((c & b) ? L + c - b : c)...};
    constexpr I hi = {static_cast<IT>((c & b) ? L + c : c + b)...};
#pragma GCC unroll 16
    for (int r = 0; r < L; ++r) {
      if (r & b) continue;
      const V u = x[r], w = x[r | b];
      x[r] = __builtin_shuffle(u, w, lo);
      x[r | b] = __builtin_shuffle(u, w, hi);
    }
    if constexpr (2 * b < L) transpose_stage<2 * b>(x, cs);
  }
#endif
  static void transpose_via_memory(V (&x)[L]) {
    T t[L][L];
    std::memcpy(t, x, sizeof t);
    for (int r = 0; r < L; ++r)
      for (int c = 0; c < L; ++c) x[r][c] = t[c][r];
  }
};
#else
// Portable fallback: fixed-size arrays the auto-vectorizer may pick up.
template <typename T>
struct Simd {
  static constexpr int L = kVecBytes / static_cast<int>(sizeof(T));
  struct V {
    T x[L];
  };
  static V zero() { return V{}; }
  static V splat(T s) {
    V v;
    for (int i = 0; i < L; ++i) v.x[i] = s;
    return v;
  }
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(T* p, V v) { std::memcpy(p, &v, sizeof v); }
  static V fma(V a, V b, V c) {
    for (int i = 0; i < L; ++i) c.x[i] += a.x[i] * b.x[i];
    return c;
  }
  static V scale(V v, T s) {
    for (int i = 0; i < L; ++i) v.x[i] *= s;
    return v;
  }
  static void transpose(V (&x)[L]) {
    T t[L][L];
    std::memcpy(t, x, sizeof t);
    for (int r = 0; r < L; ++r)
      for (int c = 0; c < L; ++c) x[r].x[c] = t[c][r];
  }
};
#endif

// ---- blocking -------------------------------------------------------------------------

#ifndef LOOM_GEMM_MR_F32
#define LOOM_GEMM_MR_F32 6
#endif
#ifndef LOOM_GEMM_NV_F32
#define LOOM_GEMM_NV_F32 4
#endif
#ifndef LOOM_GEMM_MR_F64
#define LOOM_GEMM_MR_F64 6
#endif
#ifndef LOOM_GEMM_NV_F64
#define LOOM_GEMM_NV_F64 4
#endif
#ifndef LOOM_GEMM_KC
#define LOOM_GEMM_KC 256
#endif
#ifndef LOOM_GEMM_MC
#define LOOM_GEMM_MC 144
#endif
#ifndef LOOM_GEMM_NC
#define LOOM_GEMM_NC 4096
#endif
#ifndef LOOM_GEMM_DIRECT_M
#define LOOM_GEMM_DIRECT_M 64
#endif

// MR x NV vectors of accumulators (NR = NV * lanes columns).
template <typename T> struct Tile;
template <> struct Tile<float> {
  static constexpr int MR = LOOM_GEMM_MR_F32, NV = LOOM_GEMM_NV_F32;
  static constexpr int NR = NV * Simd<float>::L;
};
template <> struct Tile<double> {
  static constexpr int MR = LOOM_GEMM_MR_F64, NV = LOOM_GEMM_NV_F64;
  static constexpr int NR = NV * Simd<double>::L;
};

constexpr int64_t KC = LOOM_GEMM_KC;  // depth of a packed block
constexpr int64_t MC = LOOM_GEMM_MC;  // rows of A per packed block (A block stays in L2)
constexpr int64_t NC = LOOM_GEMM_NC;  // columns of B per packed block
// Up to this many rows of C, a row-major B is read in place instead of packed:
// each B element is used only M times, too few to repay copying it.
constexpr int64_t kDirectBMaxM = LOOM_GEMM_DIRECT_M;

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
template <typename T>
void pack_a(const MatRef<T>& A, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* dst) {
  constexpr int MR = Tile<T>::MR;
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ip));
    if (A.rs == 1) {  // op(A) = A^T: the MR rows of a k step are contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = A.at(i0 + ip, k0 + k);
        for (int r = 0; r < rows; ++r) dst[k * MR + r] = src[r];
        for (int r = rows; r < MR; ++r) dst[k * MR + r] = T(0);
      }
    } else {  // walk each row of A along k (unit stride when A is row-major)
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
template <typename T>
void pack_b_panel(const MatRef<T>& B, int64_t k0, int64_t kc, int64_t j0, int64_t cols, T* dst) {
  constexpr int NR = Tile<T>::NR;
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
template <typename T, int ROWS>
void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t b_step,
                  T* __restrict c, int64_t ldc, int64_t cols, T alpha, T beta) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int MR = Tile<T>::MR, NV = Tile<T>::NV, NR = Tile<T>::NR, L = S::L;
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

template <typename T, int R = Tile<T>::MR>
void micro_kernel_rows(int rows, int64_t kc, const T* a, const T* b, int64_t b_step, T* c,
                       int64_t ldc, int64_t cols, T alpha, T beta) {
  if (rows == R) {
    micro_kernel<T, R>(kc, a, b, b_step, c, ldc, cols, alpha, beta);
  } else if constexpr (R > 1) {
    micro_kernel_rows<T, R - 1>(rows, kc, a, b, b_step, c, ldc, cols, alpha, beta);
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
template <typename T>
void gemm_block(const Problem<T>& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
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
          pack_b_panel(p.B, pc, kc, jc + jr, std::min<int64_t>(NR, nc - jr), bbuf + jr * kc);
      } else if (full < nc) {  // the ragged last panel is packed so no read passes N
        pack_b_panel(p.B, pc, kc, jc + full, nc - full, ebuf);
      }
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min<int64_t>(MC, i1 - ic);
        pack_a(p.A, ic, mc, pc, kc, abuf);
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
            micro_kernel_rows<T>(rows, kc, abuf + ir * kc, bp, b_step,
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
// its own A rows and B columns, so the grid minimises the largest block's
// work plus its packing: mt * nt + kPackCost * (mt + nt) per unit of K.
template <typename T>
Grid choose_grid(int64_t M, int64_t N, int threads) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  constexpr double kPackCost = 16;  // one packed element ~ 16 multiply-adds
  const int64_t pm = (M + MR - 1) / MR, pn = (N + NR - 1) / NR;  // panels
  Grid best;
  double best_cost = -1;
  for (int tm = 1; tm <= threads; ++tm) {
    const int tn = threads / tm;
    if (tm > pm || tn > pn) continue;
    const double mt = static_cast<double>((pm + tm - 1) / tm * MR);
    const double nt = static_cast<double>((pn + tn - 1) / tn * NR);
    const double cost = mt * nt + kPackCost * (mt + nt);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {tm, tn};
    }
  }
  return best;
}

template <typename T>
void gemm_one(const GemmDesc& d, const T* a, const T* b, T* c, int threads) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
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
  p.direct_b = !d.trans_b && d.M <= kDirectBMaxM;

  // About 1 MFLOP per thread repays waking it.
  const double flops = 2.0 * static_cast<double>(d.M) * static_cast<double>(d.N) *
                       static_cast<double>(d.K);
  threads = static_cast<int>(std::clamp<double>(flops / 1e6, 1.0, threads));
  const Grid g = threads > 1 ? choose_grid<T>(d.M, d.N, threads) : Grid{};
  if (g.tm * g.tn <= 1) {
    gemm_block(p, 0, d.M, 0, d.N);
    return;
  }
  const int64_t pm = (d.M + MR - 1) / MR, pn = (d.N + NR - 1) / NR;
  ref::parallel_for(g.tm * g.tn, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bm = t / g.tn, bn = t % g.tn;
      const int64_t i0 = std::min(d.M, pm * bm / g.tm * MR);
      const int64_t i1 = std::min(d.M, pm * (bm + 1) / g.tm * MR);
      const int64_t j0 = std::min(d.N, pn * bn / g.tn * NR);
      const int64_t j1 = std::min(d.N, pn * (bn + 1) / g.tn * NR);
      if (i0 < i1 && j0 < j1) gemm_block(p, i0, i1, j0, j1);
    }
  });
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
