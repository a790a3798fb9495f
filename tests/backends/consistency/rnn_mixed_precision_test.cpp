// Recurrent layers under mixed precision (RnnDesc::compute bf16 / f16):
// the oneDNN backend (its bf16 primitive where native, else the explicit
// BPTT with rounded products) and the reference backend (the explicit BPTT,
// whose GEMM rounds copies of its operands) against the f64 oracle.
//
// The tolerance comes from the format's unit roundoff u = 2^-p (p = 8
// significand bits for bf16, 11 for f16): rounding both operands of a
// product x w errs by at most 2u |x w|, so a pre-activation errs by at most
// 2u times the sum of its terms' magnitudes (here below 1: |x|, |h| <= 1,
// |w| <= 0.8, F, H <= 4). The gate functions are 1-Lipschitz and the
// recurrence carries each step's error into the next, so after T steps an
// output errs by at most about 2uT; outputs are checked at 2uT + 2u (the
// primitive also rounds y itself), gradients, which chain one more product
// through the same steps, at twice that. f32's own error (1e-6) is far
// below both.
//
// And it can fail the other way: the same runs without rounding (f32) must
// differ from the rounded ones by more than f32's tolerance, or no rounding
// happened.
#include <cmath>
#include <string>
#include <vector>

#include "backends/consistency/rnn_consistency_util.h"
#include "loom/autograd/precision.h"

namespace loom::test {
namespace {

double unit_roundoff(DType format) { return format == DType::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }

bool cpu_has_bf16() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

Config mixed_config(const CellVariant& v, bool backwards, bool seq, MaskType mask) {
  Config c = base_config(v.cell, v.reset_after);
  c.B = 3;
  c.T = 6;
  c.F = 4;
  c.H = 4;
  c.desc.go_backwards = backwards;
  c.desc.return_sequences = seq;
  c.initial_state = true;
  c.mask = mask;
  return c;
}

// Runs `c` in f32 under `format` on `be` and checks it against the f64
// oracle at the tolerance above; returns whether `be` claimed it.
bool check_mixed(Backend& be, const Config& c, DType format, uint64_t seed) {
  ComputePrecisionScope scope(format);
  const double u = unit_roundoff(format);
  const double out_tol = 2 * u * c.T + 2 * u;
  return check_config(be, c, seed, DType::f32, out_tol, 2 * out_tol);
}

// The largest |a - b| / (1 + |b|) over outputs and gradients of two runs.
double largest_difference(const Result& a, const Result& b) {
  double e = 0;
  for (size_t k = 0; k < a.outputs.size(); ++k) e = std::max(e, scaled_error(a.outputs[k], b.outputs[k]));
  for (size_t k = 0; k < a.grads.size(); ++k)
    if (a.grads[k].defined() && b.grads[k].defined())
      e = std::max(e, scaled_error(a.grads[k], b.grads[k]));
  return e;
}

TEST(RnnMixedPrecision, ReferenceBackendBf16AndF16AgreeWithTheOracle) {
  uint64_t seed = 500;
  for (DType format : {DType::bf16, DType::f16})
    for (const CellVariant& v : kCells)
      for (bool backwards : {false, true})
        check_mixed(reference_backend(), mixed_config(v, backwards, true, MaskType::right), format,
                    seed++);
}

TEST(RnnMixedPrecision, OneDnnBf16AgreesWithTheOracle) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  uint64_t seed = 600;
  for (const CellVariant& v : kCells)
    for (bool backwards : {false, true})
      for (bool seq : {false, true})
        for (MaskType mask : {MaskType::none, MaskType::right}) {
          const Config c = mixed_config(v, backwards, seq, mask);
          RnnDesc d = c.full_desc();
          d.compute = DType::bf16;
          // A CPU with AVX-512 BF16 has oneDNN's native bf16 primitive, and
          // every built-in cell then takes it.
          if (cpu_has_bf16()) EXPECT_TRUE(onednn->supports_rnn(d)) << c.str();
          check_mixed(*onednn, c, DType::bf16, seed++);
        }
}

TEST(RnnMixedPrecision, OneDnnF16FallsBackToTheRoundedExplicitPath) {
  LOOM_REQUIRE_BACKEND(onednn, "onednn");
  const Config c = mixed_config(kCells[1], false, true, MaskType::none);
  RnnDesc d = c.full_desc();
  d.compute = DType::f16;
  EXPECT_FALSE(onednn->supports_rnn(d));
  check_mixed(*onednn, c, DType::f16, 700);
}

// The rounding is real: each backend's bf16 run differs from its f32 run
// by more than five times f32's gradient tolerance (1e-3, a quarter of
// bf16's u; the differences seen are 2e-3 to 6e-3).
TEST(RnnMixedPrecision, Bf16RoundsWhereF32DoesNot) {
  for (Backend* be : {&reference_backend(), backend_named("onednn")}) {
    if (be == nullptr) continue;
    for (const CellVariant& v : kCells) {
      const Config c = mixed_config(v, false, true, MaskType::none);
      const Inputs in = make_inputs(c, 800);
      Result f32, bf16;
      f32 = run_on(*be, c, in, DType::f32, 801);
      {
        ComputePrecisionScope scope(DType::bf16);
        bf16 = run_on(*be, c, in, DType::f32, 801);
      }
      EXPECT_GT(largest_difference(bf16, f32), 5 * kGradientTol) << v.name << " on " << be->name();
    }
  }
}

// f64 is never rounded, whatever the scope says (gradcheck stays exact).
TEST(RnnMixedPrecision, F64IgnoresTheScope) {
  const Config c = mixed_config(kCells[1], false, true, MaskType::none);
  const Inputs in = make_inputs(c, 900);
  const Result plain = run_on(reference_backend(), c, in, DType::f64, 901);
  ComputePrecisionScope scope(DType::bf16);
  const Result scoped = run_on(reference_backend(), c, in, DType::f64, 901);
  EXPECT_EQ(largest_difference(scoped, plain), 0.0);
}

}  // namespace
}  // namespace loom::test
