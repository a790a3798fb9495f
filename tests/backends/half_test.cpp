// The 16-bit formats (backends/half.h), the copy kernel's conversions, and
// the mixed-precision GEMM (GemmDesc::compute).
#include <cmath>
#include <limits>
#include <vector>

#include "test_util.h"
#include "loom/backends/half.h"

namespace loom::test {
namespace {

// Every bf16 and f16 bit pattern survives the trip through f32 (NaN stays
// NaN): the conversions are exact inverses on representable values.
TEST(Half, EveryBitPatternRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t b = static_cast<uint16_t>(h);
    const float fb = bf16_bits_to_float(b), fh = f16_bits_to_float(b);
    if (std::isnan(fb)) EXPECT_TRUE(std::isnan(round_to_bf16(fb)));
    else ASSERT_EQ(float_to_bf16_bits(fb), b) << h;
    if (std::isnan(fh)) EXPECT_TRUE(std::isnan(round_to_f16(fh)));
    else ASSERT_EQ(float_to_f16_bits(fh), b) << h;
  }
}

// Round to nearest, ties to even, checked against the two neighbours of
// every f16 value (and a spread of bf16 ones), computed in double.
TEST(Half, RoundsToNearestTiesToEven) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {  // finite non-negative f16
    const double lo = f16_bits_to_float(static_cast<uint16_t>(h));
    const double hi = h + 1 < 0x7c00 ? f16_bits_to_float(static_cast<uint16_t>(h + 1)) : 65536.0;
    const float mid = static_cast<float>((lo + hi) / 2);  // exact in f32
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    EXPECT_EQ(float_to_f16_bits(mid), even) << h;  // above 65504: 0x7c00, infinity
    EXPECT_EQ(float_to_f16_bits(std::nextafter(mid, 0.0f)), h) << h;
  }
  EXPECT_EQ(float_to_f16_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_f16_bits(65520.0f), 0x7c00);  // the tie above the largest rounds to inf
  EXPECT_EQ(float_to_f16_bits(-1e10f), 0xfc00);
  EXPECT_EQ(float_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);  // the tie at half the smallest subnormal: even
  EXPECT_EQ(float_to_f16_bits(std::ldexp(1.5f, -25)), 0x0001);
  for (uint32_t h = 0; h < 0x7f80; h += 7) {  // finite non-negative bf16
    const float lo = bf16_bits_to_float(static_cast<uint16_t>(h));
    const float hi = bf16_bits_to_float(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((static_cast<double>(lo) + hi) / 2);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    EXPECT_EQ(float_to_bf16_bits(mid), even) << h;
    EXPECT_EQ(float_to_bf16_bits(std::nextafter(mid, hi)), h + 1) << h;
  }
  EXPECT_EQ(float_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(round_to_bf16(1.00390625f), 1.0f);      // 1 + 2^-8: the tie, to even
  EXPECT_EQ(round_to_bf16(1.01171875f), 1.015625f); // 1 + 3*2^-8: the tie, to even (up)
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isinf(round_to_bf16(std::numeric_limits<float>::max())));
}

// Tensor::to converts through the backend's copy kernel.
TEST(Half, TensorsConvertToAndFromTheFormats) {
  const std::vector<float> v{1.0f, -2.5f, 3.14159265f, 1e-3f, 70000.0f, -0.0f};
  const Tensor x = Tensor::from_vector(v, {2, 3});
  for (DType format : {DType::bf16, DType::f16}) {
    const Tensor h = x.to(format);
    EXPECT_EQ(h.dtype(), format);
    EXPECT_EQ(dtype_size(h.dtype()), 2u);
    const std::vector<float> back = h.to(DType::f32).to_vector<float>();
    const std::vector<double> back64 = h.to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) {
      const float want = format == DType::bf16 ? round_to_bf16(v[i]) : round_to_f16(v[i]);
      EXPECT_EQ(back[i], want) << dtype_name(format) << " " << v[i];
      EXPECT_EQ(back64[i], static_cast<double>(want));
    }
    // A transposed (strided) view converts element by element.
    const std::vector<float> t = transpose(x, 0, 1).to(format).to(DType::f32).to_vector<float>();
    EXPECT_EQ(t[1], back[3]);
  }
  // The 16-bit formats are storage: kernels that compute name the problem.
  EXPECT_LOOM_ERROR(add(x.to(DType::bf16), x.to(DType::bf16)), "storage dtype");
}

// GemmDesc::compute bf16/f16: the product of the rounded operands,
// accumulated in f32, on every CPU backend (transposed and batched too).
TEST(Half, MixedGemmIsTheProductOfRoundedOperands) {
  Generator g(7);
  const int64_t B = 2, M = 5, K = 33, N = 7;
  const Tensor a = Tensor::uniform({B, M, K}, -1, 1, g);
  const Tensor b = Tensor::uniform({K, N}, -1, 1, g);
  const std::string before = cpu_backend_name();
  for (const std::string& name : available_backends()) {
    if (name == "cuda") continue;
    set_cpu_backend(name);
    Backend& be = backend_for(Device::cpu());
    for (DType format : {DType::bf16, DType::f16}) {
      for (bool ta : {false, true}) {
        // A as stored: (M,K), or (K,M) read transposed.
        const Tensor a_stored = ta ? transpose(a, 1, 2).clone() : a;
        Tensor c = Tensor::zeros({B, M, N});
        GemmDesc d;
        d.dtype = DType::f32;
        d.compute = format;
        d.trans_a = ta;
        d.M = M, d.N = N, d.K = K;
        d.lda = ta ? M : K, d.ldb = N, d.ldc = N;
        d.batch = B, d.stride_a = M * K, d.stride_b = 0, d.stride_c = M * N;
        be.gemm(d, a_stored.raw_data(), b.raw_data(), c.raw_data());
        // The oracle: f64 product of the rounded operands.
        const Tensor want = matmul(a.to(format).to(DType::f64), b.to(format).to(DType::f64));
        const std::vector<float> got = c.to_vector<float>();
        const std::vector<double> ref = want.to_vector<double>();
        double err = 0, diff_from_f32 = 0;
        const std::vector<double> exact = matmul(a.to(DType::f64), b.to(DType::f64)).to_vector<double>();
        for (size_t i = 0; i < got.size(); ++i) {
          err = std::max(err, std::abs(got[i] - ref[i]));
          diff_from_f32 = std::max(diff_from_f32, std::abs(got[i] - exact[i]));
        }
        EXPECT_LE(err, 1e-5) << name << " " << dtype_name(format) << " trans_a=" << ta;
        EXPECT_GT(diff_from_f32, 1e-4) << name << " " << dtype_name(format) << ": nothing was rounded";
      }
    }
  }
  set_cpu_backend(before);
}

}  // namespace
}  // namespace loom::test
