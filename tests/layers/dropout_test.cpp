// Dropout and SpatialDropout1D: identity at inference, inverted scaling and
// mask shapes in training, seeding.
#include "layer_test_util.h"

namespace loom {

TEST(Dropout, IdentityAtInference) {
  auto d = Dropout::make(0.5);
  Tensor x = Tensor::arange(1, 13).reshape({3, 4});
  test::expect_values((*d)(x, /*training=*/false), x.to_vector<double>());
  auto zero = Dropout::make(0.0);
  test::expect_values((*zero)(x, true), x.to_vector<double>());
}

TEST(Dropout, TrainingDropsAndScales) {
  auto d = Dropout::make({.rate = 0.25, .seed = 11});
  Tensor x = Tensor::ones({200, 100});
  std::vector<double> y = (*d)(x, true).to_vector<double>();
  int64_t zeros = 0;
  for (double v : y) {
    if (v == 0) ++zeros;
    else EXPECT_NEAR(v, 1.0 / 0.75, 1e-6);
  }
  EXPECT_NEAR(static_cast<double>(zeros) / y.size(), 0.25, 0.01);
  // Masks are fresh per call.
  EXPECT_NE((*d)(x, true).to_vector<double>(), y);
}

TEST(Dropout, SeedsMakeMasksReproducible) {
  Tensor x = Tensor::ones({10, 10});
  auto a = Dropout::make({.rate = 0.5, .seed = 3});
  auto b = Dropout::make({.rate = 0.5, .seed = 3});
  EXPECT_EQ((*a)(x, true).to_vector<double>(), (*b)(x, true).to_vector<double>());
  // Unseeded layers take their seed from the global generator when created.
  manual_seed(77);
  auto c = Dropout::make(0.5);
  manual_seed(77);
  auto d = Dropout::make(0.5);
  EXPECT_EQ((*c)(x, true).to_vector<double>(), (*d)(x, true).to_vector<double>());
  // reseed() restarts the stream.
  Generator g1(5), g2(5);
  c->reseed(g1);
  std::vector<double> first = (*c)(x, true).to_vector<double>();
  c->reseed(g2);
  EXPECT_EQ((*c)(x, true).to_vector<double>(), first);
}

TEST(Dropout, NoiseShapeSharesTheMaskAlongOneAxes) {
  auto d = Dropout::make({.rate = 0.5, .noise_shape = {-1, 1, -1}, .seed = 8});
  Tensor x = Tensor::ones({4, 6, 5});  // (B, T, F)
  Tensor y = (*d)(x, true);
  int64_t dropped = 0;
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t f = 0; f < 5; ++f) {
      const double first = y.at({b, 0, f});
      if (first == 0) ++dropped;
      for (int64_t t = 1; t < 6; ++t) EXPECT_EQ(y.at({b, t, f}), first);
    }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 20);
  EXPECT_LOOM_ERROR((*Dropout::make({.rate = 0.5, .noise_shape = {1, 1}}))(x, true),
                    "noise_shape (1, 1) has 2 dims but the input (4, 6, 5) has 3");
}

TEST(Dropout, MasksPassThrough) {
  auto d = Dropout::make(0.5);
  Tensor m = Tensor::of2d({{1, 0, 1}});
  LayerOutput out = d->forward(Tensor::ones({1, 3, 2}), m, true);
  test::expect_values(out.mask(), {1, 0, 1});
}

TEST(Dropout, RateErrors) {
  EXPECT_LOOM_ERROR(Dropout::make(1.0, "drop"), "Dropout 'drop': rate must be in [0, 1), got 1");
  EXPECT_LOOM_ERROR(Dropout::make(-0.1), "rate must be in [0, 1)");
}

TEST(SpatialDropout1D, DropsWholeChannels) {
  auto d = SpatialDropout1D::make({.rate = 0.5, .seed = 21});
  Tensor x = Tensor::arange(1, 1 + 8 * 7 * 6).reshape({8, 7, 6});  // (B, T, F)
  Tensor y = (*d)(x, true);
  int64_t dropped = 0;
  for (int64_t b = 0; b < 8; ++b)
    for (int64_t f = 0; f < 6; ++f) {
      const bool off = y.at({b, 0, f}) == 0;
      dropped += off;
      for (int64_t t = 0; t < 7; ++t)
        EXPECT_NEAR(y.at({b, t, f}), off ? 0.0 : 2.0 * x.at({b, t, f}), 1e-4);
    }
  EXPECT_GT(dropped, 8);  // of 48 channels, about 24
  EXPECT_LT(dropped, 40);
  // Different samples draw different channels.
  bool differ = false;
  for (int64_t f = 0; f < 6; ++f) differ = differ || ((y.at({0, 0, f}) == 0) != (y.at({1, 0, f}) == 0));
  EXPECT_TRUE(differ);
  test::expect_values((*d)(x, false), x.to_vector<double>());
  EXPECT_EQ(d->type_name(), "SpatialDropout1D");
  EXPECT_LOOM_ERROR((*SpatialDropout1D::make(0.5, "sd"))(Tensor::ones({2, 3}), true),
                    "SpatialDropout1D 'sd': expected an input of shape (B, T, F), got (2, 3)");
}

}  // namespace loom
