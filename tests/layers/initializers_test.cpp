// Initializers: Keras formulas, statistics, orthogonality, seeding, names.
#include <cmath>

#include "layer_test_util.h"

namespace loom {

namespace {
struct Stats {
  double mean = 0, stddev = 0, min = 1e300, max = -1e300;
};
Stats stats(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  Stats s;
  for (double x : v) {
    s.mean += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(s.stddev / static_cast<double>(v.size()));
  return s;
}

// (rows, cols) row-major -> a^T a (cols, cols)
std::vector<double> gram_columns(const std::vector<double>& a, int64_t rows, int64_t cols) {
  std::vector<double> g(cols * cols, 0.0);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      for (int64_t r = 0; r < rows; ++r) g[i * cols + j] += a[r * cols + i] * a[r * cols + j];
  return g;
}

void expect_identity(const std::vector<double>& g, int64_t n, double scale, double tol) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(g[i * n + j], i == j ? scale : 0.0, tol) << "element (" << i << ", " << j << ")";
}
}  // namespace

TEST(Initializers, Fans) {
  EXPECT_EQ(compute_fans({}).fan_in, 1);
  EXPECT_EQ(compute_fans({7}).fan_in, 7);
  EXPECT_EQ(compute_fans({7}).fan_out, 7);
  EXPECT_EQ(compute_fans({3, 5}).fan_in, 3);
  EXPECT_EQ(compute_fans({3, 5}).fan_out, 5);
  // Conv-like kernels multiply by the receptive field.
  EXPECT_EQ(compute_fans({2, 3, 4, 5}).fan_in, 2 * 3 * 4);
  EXPECT_EQ(compute_fans({2, 3, 4, 5}).fan_out, 2 * 3 * 5);
}

TEST(Initializers, GlorotUniformBoundsAndVariance) {
  Generator g(1);
  Tensor w = Initializer("glorot_uniform")({300, 200}, DType::f64, g);
  const double limit = std::sqrt(6.0 / 500.0);
  Stats s = stats(w);
  EXPECT_GE(s.min, -limit);
  EXPECT_LE(s.max, limit);
  // The extremes come close to the bound with 60000 draws.
  EXPECT_GT(s.max, 0.99 * limit);
  EXPECT_LT(s.min, -0.99 * limit);
  EXPECT_NEAR(s.mean, 0.0, 0.002);
  EXPECT_NEAR(s.stddev, limit / std::sqrt(3.0), 0.01 * limit);
}

TEST(Initializers, GlorotNormalIsTruncatedWithGlorotVariance) {
  Generator g(2);
  Tensor w = Initializer("glorot_normal")({300, 200}, DType::f64, g);
  const double target_sd = std::sqrt(2.0 / 500.0);  // after truncation
  const double sd = target_sd / 0.87962566103423978;  // before
  Stats s = stats(w);
  EXPECT_GE(s.min, -2 * sd);
  EXPECT_LE(s.max, 2 * sd);
  EXPECT_NEAR(s.mean, 0.0, 0.002);
  EXPECT_NEAR(s.stddev, target_sd, 0.02 * target_sd);
}

TEST(Initializers, HeAndLecun) {
  Generator g(3);
  Tensor w = Initializer("he_uniform")({400, 100}, DType::f64, g);
  const double limit = std::sqrt(6.0 / 400.0);
  Stats s = stats(w);
  EXPECT_GE(s.min, -limit);
  EXPECT_LE(s.max, limit);
  EXPECT_NEAR(s.stddev, limit / std::sqrt(3.0), 0.01 * limit);
  Tensor n = Initializer("he_normal")({400, 100}, DType::f64, g);
  EXPECT_NEAR(stats(n).stddev, std::sqrt(2.0 / 400.0), 0.02 * std::sqrt(2.0 / 400.0));
  Tensor l = Initializer("lecun_uniform")({400, 100}, DType::f64, g);
  EXPECT_LE(stats(l).max, std::sqrt(3.0 / 400.0));
}

TEST(Initializers, OrthogonalSquareTallWide) {
  Generator g(4);
  // Square and tall: orthonormal columns, Q^T Q = I.
  for (Shape shape : {Shape{16, 16}, Shape{20, 8}, Shape{2, 3, 4}}) {
    Tensor q = Initializer("orthogonal")(shape, DType::f64, g);
    EXPECT_EQ(q.shape(), shape);
    const int64_t cols = shape.back(), rows = q.numel() / cols;
    expect_identity(gram_columns(q.to_vector<double>(), rows, cols), cols, 1.0, 1e-12);
  }
  // Wide (an LSTM recurrent kernel (H, 4H)): orthonormal rows, Q Q^T = I.
  Tensor w = Initializer("orthogonal")({8, 32}, DType::f64, g);
  Tensor wt = w.transpose(0, 1).contiguous();
  expect_identity(gram_columns(wt.to_vector<double>(), 32, 8), 8, 1.0, 1e-12);
  // gain scales: Q^T Q = gain^2 I.
  Tensor s = initializers::orthogonal(2.0)({6, 6}, DType::f64, g);
  expect_identity(gram_columns(s.to_vector<double>(), 6, 6), 6, 4.0, 1e-12);
  // f32 holds to float precision.
  Tensor f = Initializer("orthogonal")({32, 32}, DType::f32, g);
  expect_identity(gram_columns(f.to_vector<double>(), 32, 32), 32, 1.0, 1e-5);
  EXPECT_LOOM_ERROR(Initializer("orthogonal")({5}, DType::f32, g), "at least 2 dims");
}

TEST(Initializers, OrthogonalIsTheSignCorrectedQrOfTheNormalDraw) {
  // Keras: Q from the QR of a normal matrix, columns multiplied by sign(diag(R)),
  // i.e. the QR whose R has a positive diagonal. Then R = Q^T A must be upper
  // triangular with a positive diagonal.
  Generator g1(9), g2(9);
  Tensor q = Initializer("orthogonal")({5, 3}, DType::f64, g1);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> a(15);
  for (double& x : a) x = dist(g2.engine());  // the same draw, (5, 3) row-major
  std::vector<double> qv = q.to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double r = 0;
      for (int k = 0; k < 5; ++k) r += qv[k * 3 + i] * a[k * 3 + j];
      if (i > j) EXPECT_NEAR(r, 0.0, 1e-12) << "R(" << i << ", " << j << ")";
      if (i == j) EXPECT_GT(r, 0.0) << "R(" << i << ", " << i << ")";
    }
}

TEST(Initializers, SimpleOnes) {
  Generator g(5);
  test::expect_values(Initializer("zeros")({2, 2}, DType::f32, g), {0, 0, 0, 0});
  test::expect_values(Initializer("ones")({3}, DType::f32, g), {1, 1, 1});
  test::expect_values(initializers::constant(2.5)({2}, DType::f64, g), {2.5, 2.5});
  test::expect_values(Initializer("constant(value=-1)")({2}, DType::f64, g), {-1, -1});
  Tensor u = initializers::random_uniform(2.0, 3.0)({5000}, DType::f64, g);
  Stats su = stats(u);
  EXPECT_GE(su.min, 2.0);
  EXPECT_LT(su.max, 3.0);
  EXPECT_NEAR(su.mean, 2.5, 0.02);
  Tensor n = initializers::random_normal(1.0, 0.5)({20000}, DType::f64, g);
  Stats sn = stats(n);
  EXPECT_NEAR(sn.mean, 1.0, 0.02);
  EXPECT_NEAR(sn.stddev, 0.5, 0.02);
  Tensor t = initializers::truncated_normal(0.0, 1.0)({5000}, DType::f64, g);
  EXPECT_LE(stats(t).max, 2.0);
  EXPECT_GE(stats(t).min, -2.0);
}

TEST(Initializers, ReproduciblePerSeed) {
  Generator a(42), b(42), c(43);
  Tensor wa = Initializer("glorot_uniform")({4, 5}, DType::f32, a);
  Tensor wb = Initializer("glorot_uniform")({4, 5}, DType::f32, b);
  Tensor wc = Initializer("glorot_uniform")({4, 5}, DType::f32, c);
  EXPECT_EQ(wa.to_vector<float>(), wb.to_vector<float>());
  EXPECT_NE(wa.to_vector<float>(), wc.to_vector<float>());
  // Two draws from one generator differ.
  EXPECT_NE(Initializer("orthogonal")({4, 4}, DType::f32, a).to_vector<float>(),
            Initializer("orthogonal")({4, 4}, DType::f32, a).to_vector<float>());
  // An initializer with its own seed gives the same values on every call.
  Initializer seeded = initializers::glorot_uniform(7);
  EXPECT_EQ(seeded({3, 3}, DType::f32, a).to_vector<float>(),
            seeded({3, 3}, DType::f32, c).to_vector<float>());
}

TEST(Initializers, LayersDrawFromTheGlobalGeneratorOrTheirSeed) {
  manual_seed(123);
  auto d1 = Dense::make({.units = 4});
  (void)(*d1)(Tensor::ones({1, 3}));
  manual_seed(123);
  auto d2 = Dense::make({.units = 4});
  (void)(*d2)(Tensor::ones({1, 3}));
  EXPECT_EQ(d1->kernel()->value.to_vector<float>(), d2->kernel()->value.to_vector<float>());
  // Another global seed, other weights.
  manual_seed(124);
  auto d3 = Dense::make({.units = 4});
  (void)(*d3)(Tensor::ones({1, 3}));
  EXPECT_NE(d1->kernel()->value.to_vector<float>(), d3->kernel()->value.to_vector<float>());
  // A layer seed ignores the global generator.
  manual_seed(1);
  auto s1 = Dense::make({.units = 4, .seed = 99});
  (void)(*s1)(Tensor::ones({1, 3}));
  manual_seed(2);
  auto s2 = Dense::make({.units = 4, .seed = 99});
  (void)(*s2)(Tensor::ones({1, 3}));
  EXPECT_EQ(s1->kernel()->value.to_vector<float>(), s2->kernel()->value.to_vector<float>());
  // Embedding's Keras default: uniform in [-0.05, 0.05].
  auto e = Embedding::make({.input_dim = 200, .output_dim = 50});
  (void)(*e)(Tensor::from_vector<int32_t>({0}, {1, 1}));
  Stats se = stats(e->embeddings()->value);
  EXPECT_GE(se.min, -0.05);
  EXPECT_LE(se.max, 0.05);
  EXPECT_GT(se.max, 0.049);
}

TEST(Initializers, NamesAliasesAndSpecs) {
  EXPECT_EQ(Initializer("GlorotUniform").name(), "glorot_uniform");
  EXPECT_EQ(Initializer("RandomNormal").name(), "random_normal");
  EXPECT_EQ(Initializer("uniform").name(), "random_uniform");
  EXPECT_EQ(Initializer("normal").name(), "random_normal");
  EXPECT_EQ(Initializer("HeNormal").name(), "he_normal");
  EXPECT_EQ(Initializer("Orthogonal").name(), "orthogonal");
  EXPECT_EQ(Initializer("random_uniform").arg("minval"), -0.05);
  EXPECT_EQ(Initializer("random_uniform").arg("maxval"), 0.05);
  EXPECT_EQ(Initializer("random_normal").arg("stddev"), 0.05);
  Initializer spec("random_uniform(minval=-0.1, maxval=0.2, seed=5)");
  EXPECT_EQ(spec.arg("minval"), -0.1);
  EXPECT_EQ(spec.arg("maxval"), 0.2);
  ASSERT_TRUE(spec.seed.has_value());
  EXPECT_EQ(*spec.seed, 5u);
  EXPECT_EQ(Initializer(spec.str()), spec);
  EXPECT_EQ(Initializer(initializers::orthogonal(1.5).str()), initializers::orthogonal(1.5));
  EXPECT_EQ(initializers::zeros().str(), "zeros");

  try {
    Initializer bad("glorot_uniformm");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("unknown initializer 'glorot_uniformm'"), std::string::npos) << msg;
    for (const char* n : {"glorot_uniform", "glorot_normal", "orthogonal", "zeros", "ones",
                          "random_uniform", "random_normal", "he_uniform", "he_normal", "constant"})
      EXPECT_NE(msg.find(n), std::string::npos) << n << " missing from: " << msg;
  }
  EXPECT_LOOM_ERROR(Initializer("random_uniform(mean=1)"),
                    "unknown argument 'mean' (it takes maxval, minval)");
  EXPECT_LOOM_ERROR(Initializer("zeros(value=1)"), "unknown argument 'value' (it takes none)");
  EXPECT_LOOM_ERROR(Initializer("constant(value=abc)"), "'abc' is not a number");
  EXPECT_LOOM_ERROR(Initializer("glorot_uniform")({2}, DType::i32), "must be f32 or f64");
}

}  // namespace loom
