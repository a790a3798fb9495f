// Optimizers, gradient processing, schedules, sparse row updates, state and
// config. Expected values are the Keras 2 formulas evaluated here in double,
// element by element, next to a few literal numbers worked out by hand.
#include <cmath>
#include <cstring>
#include <functional>

#include "test_util.h"

namespace loom {
namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};

ParameterPtr make_param(const std::string& name, const std::vector<double>& values,
                        const Shape& shape, DType dtype) {
  return std::make_shared<Parameter>(name, Tensor::from_vector(values, shape).to(dtype).detach());
}
ParameterPtr make_param(const std::string& name, const std::vector<double>& values, DType dtype) {
  return make_param(name, values, {static_cast<int64_t>(values.size())}, dtype);
}

void set_grad(const ParameterPtr& p, const std::vector<double>& g) {
  p->value.set_grad(Tensor::from_vector(g, p->value.shape()).to(p->value.dtype()).detach());
}

// Rounding tolerance of a few steps of update arithmetic in `dtype`,
// relative to the value's magnitude (at least 1).
double tolerance(DType dtype) { return dtype == DType::f32 ? 1e-6 : 1e-13; }

void expect_close(const Tensor& t, const std::vector<double>& expected, DType dtype) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tolerance(dtype) * std::max(1.0, std::abs(expected[i])))
        << "element " << i << " (" << dtype_name(dtype) << ")";
}

// Raw bytes of a tensor, to assert bit-identity.
std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous().detach();
  const auto* p = static_cast<const unsigned char*>(c.raw_data());
  return std::vector<unsigned char>(p, p + c.numel() * dtype_size(c.dtype()));
}
std::vector<unsigned char> row_bytes(const Tensor& t, int64_t row) {
  return bytes_of(t.select(0, row).detach());
}

// Runs `steps` steps, giving the parameter grads[k] at step k; returns nothing:
// the caller inspects p->value.
void run_steps(Optimizer& opt, const ParameterPtr& p, const std::vector<std::vector<double>>& grads) {
  for (const auto& g : grads) {
    set_grad(p, g);
    opt.step({p});
    Optimizer::zero_grad({p});
  }
}

const std::vector<double> kW0 = {1.0, -2.0, 0.5};
const std::vector<std::vector<double>> kGrads = {
    {0.5, -1.5, 0.25}, {0.3, 2.0, -0.75}, {-0.2, 0.1, 1.0}};

// ---- SGD --------------------------------------------------------------------------

TEST(SGD, PlainStepsMatchHandComputedValues) {
  for (DType dt : kDtypes) {
    auto p = make_param("w", {1.0, -2.0}, dt);
    SGD opt({.learning_rate = 0.1});
    run_steps(opt, p, {{0.5, -1.0}, {2.0, 0.25}});
    // w = w - lr g:  1 - 0.05 - 0.2 = 0.75;  -2 + 0.1 - 0.025 = -1.925
    expect_close(p->value, {0.75, -1.925}, dt);
    EXPECT_EQ(opt.iterations(), 2);
  }
}

TEST(SGD, MomentumAndNesterovMatchHandComputedValues) {
  for (DType dt : kDtypes) {
    SCOPED_TRACE(dtype_name(dt));
    // w = 1, g = 0.5 twice, lr = 0.1, momentum = 0.9
    // velocity1 = -0.05, w1 = 0.95;  velocity2 = 0.9 * -0.05 - 0.05 = -0.095, w2 = 0.855
    auto p = make_param("w", {1.0}, dt);
    SGD heavy({.learning_rate = 0.1, .momentum = 0.9});
    run_steps(heavy, p, {{0.5}});
    expect_close(p->value, {0.95}, dt);
    run_steps(heavy, p, {{0.5}});
    expect_close(p->value, {0.855}, dt);
    expect_close(heavy.state().at("sgd/momentum/w"), {-0.095}, dt);

    // nesterov: w1 = 1 + 0.9 * -0.05 - 0.05 = 0.905; w2 = 0.905 + 0.9 * -0.095 - 0.05 = 0.7695
    auto q = make_param("w", {1.0}, dt);
    SGD nesterov({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true});
    run_steps(nesterov, q, {{0.5}});
    expect_close(q->value, {0.905}, dt);
    run_steps(nesterov, q, {{0.5}});
    expect_close(q->value, {0.7695}, dt);
  }
}

TEST(SGD, MomentumThreeStepsMatchFormula) {
  for (bool nesterov : {false, true}) {
    for (DType dt : kDtypes) {
      auto p = make_param("w", kW0, dt);
      SGD opt({.learning_rate = 0.05, .momentum = 0.8, .nesterov = nesterov});
      run_steps(opt, p, kGrads);
      std::vector<double> expected;
      for (size_t i = 0; i < kW0.size(); ++i) {
        double w = kW0[i], v = 0;
        for (const auto& g : kGrads) {
          v = 0.8 * v - 0.05 * g[i];
          w += nesterov ? 0.8 * v - 0.05 * g[i] : v;
        }
        expected.push_back(w);
      }
      expect_close(p->value, expected, dt);
    }
  }
}

// ---- Adam -------------------------------------------------------------------------

// Keras 2 Adam on one element, in double.
struct AdamRef {
  double lr, b1, b2, eps;
  bool amsgrad = false;
  double m = 0, v = 0, vhat = 0;
  double step(double w, double g, int t) {
    double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    m += (g - m) * (1 - b1);
    v += (g * g - v) * (1 - b2);
    vhat = std::max(vhat, v);
    return w - m * alpha / (std::sqrt(amsgrad ? vhat : v) + eps);
  }
};

TEST(Adam, FirstStepMatchesHandComputedValue) {
  for (DType dt : kDtypes) {
    // w = 1, g = 0.5, lr = 0.1: m = 0.05, v = 0.00025, alpha = 0.1 * sqrt(0.001) / 0.1,
    // w1 = 1 - 0.05 * sqrt(0.001) / (sqrt(0.00025) + 1e-7) = 1 - 0.1 / (1 + 1e-7 / sqrt(0.00025))
    auto p = make_param("w", {1.0}, dt);
    Adam opt({.learning_rate = 0.1});
    run_steps(opt, p, {{0.5}});
    expect_close(p->value, {1 - 0.1 / (1 + 1e-7 / std::sqrt(0.00025))}, dt);
    // Adam's first step has size ~lr whatever the gradient's scale.
    EXPECT_NEAR(p->value.item(), 0.9, 1e-5);
  }
}

TEST(Adam, ThreeStepsMatchKerasFormula) {
  for (bool amsgrad : {false, true}) {
    for (DType dt : kDtypes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (amsgrad ? " amsgrad" : ""));
      auto p = make_param("w", kW0, dt);
      Adam opt({.learning_rate = 0.01, .beta_1 = 0.8, .beta_2 = 0.95, .epsilon = 1e-3,
                .amsgrad = amsgrad});
      run_steps(opt, p, kGrads);
      std::vector<double> expected, m, v, vhat;
      for (size_t i = 0; i < kW0.size(); ++i) {
        AdamRef ref{0.01, 0.8, 0.95, 1e-3, amsgrad};
        double w = kW0[i];
        for (int t = 0; t < 3; ++t) w = ref.step(w, kGrads[t][i], t + 1);
        expected.push_back(w);
        m.push_back(ref.m);
        v.push_back(ref.v);
        vhat.push_back(ref.vhat);
      }
      expect_close(p->value, expected, dt);
      OptimizerState st = opt.state();
      expect_close(st.at("adam/m/w"), m, dt);
      expect_close(st.at("adam/v/w"), v, dt);
      EXPECT_EQ(st.count("adam/vhat/w"), amsgrad ? 1u : 0u);
      if (amsgrad) expect_close(st.at("adam/vhat/w"), vhat, dt);
    }
  }
}

TEST(Adam, AmsgradKeepsTheLargestSecondMoment) {
  // A large gradient then small ones: v shrinks, vhat keeps its maximum, so
  // the AMSGrad step is smaller than Adam's.
  for (DType dt : kDtypes) {
    auto a = make_param("w", {0.0}, dt), b = make_param("w", {0.0}, dt);
    Adam adam({.learning_rate = 0.1, .beta_2 = 0.5});
    Adam ams({.learning_rate = 0.1, .beta_2 = 0.5, .amsgrad = true});
    const std::vector<std::vector<double>> grads = {{10.0}, {0.1}, {0.1}};
    run_steps(adam, a, grads);
    run_steps(ams, b, grads);
    OptimizerState st = ams.state();
    double v = st.at("adam/v/w").item(), vhat = st.at("adam/vhat/w").item();
    // v: 50, 25.005, 12.5075; vhat stays at 50
    EXPECT_NEAR(vhat, 50.0, 50.0 * tolerance(dt));
    EXPECT_NEAR(v, 0.5 * (0.5 * 50 + 0.5 * 0.01) + 0.5 * 0.01, 12.5 * tolerance(dt));
    EXPECT_LT(std::abs(b->value.item()), std::abs(a->value.item()));
  }
}

// ---- RMSprop ----------------------------------------------------------------------

struct RMSpropRef {
  double lr, rho, momentum, eps;
  bool centered;
  double vel = 0, avg = 0, mom = 0;
  double step(double w, double g) {
    vel = rho * vel + (1 - rho) * g * g;
    double denominator = vel + eps;
    if (centered) {
      avg = rho * avg + (1 - rho) * g;
      denominator = vel - avg * avg + eps;
    }
    double increment = lr * g / std::sqrt(denominator);
    if (momentum > 0) {
      mom = momentum * mom + increment;
      return w - mom;
    }
    return w - increment;
  }
};

TEST(RMSprop, KerasDocumentationExample) {
  // tf.keras.optimizers.RMSprop(learning_rate=0.1), var = 10, loss = var^2 / 2:
  // after one step var = 9.683772 (velocity = 0.1 * 100 = 10, step = 0.1 * 10 / sqrt(10)).
  for (DType dt : kDtypes) {
    auto p = make_param("var", {10.0}, dt);
    RMSprop opt({.learning_rate = 0.1});
    run_steps(opt, p, {{10.0}});
    expect_close(p->value, {10.0 - 1.0 / std::sqrt(10.0 + 1e-7)}, dt);
    EXPECT_NEAR(p->value.item(), 9.683772, 1e-6);
  }
}

TEST(RMSprop, PlainCenteredAndMomentumMatchFormula) {
  for (bool centered : {false, true}) {
    for (double momentum : {0.0, 0.7}) {
      for (DType dt : kDtypes) {
        SCOPED_TRACE(fmt::format("{} centered={} momentum={}", dtype_name(dt), centered, momentum));
        auto p = make_param("w", kW0, dt);
        RMSprop opt({.learning_rate = 0.01, .rho = 0.8, .momentum = momentum, .epsilon = 1e-4,
                     .centered = centered});
        run_steps(opt, p, kGrads);
        std::vector<double> expected, avg;
        for (size_t i = 0; i < kW0.size(); ++i) {
          RMSpropRef ref{0.01, 0.8, momentum, 1e-4, centered};
          double w = kW0[i];
          for (const auto& g : kGrads) w = ref.step(w, g[i]);
          expected.push_back(w);
          avg.push_back(ref.avg);
        }
        expect_close(p->value, expected, dt);
        OptimizerState st = opt.state();
        EXPECT_EQ(st.count("rmsprop/velocity/w"), 1u);
        EXPECT_EQ(st.count("rmsprop/momentum/w"), momentum > 0 ? 1u : 0u);
        EXPECT_EQ(st.count("rmsprop/average_gradient/w"), centered ? 1u : 0u);
        if (centered) expect_close(st.at("rmsprop/average_gradient/w"), avg, dt);
      }
    }
  }
}

// ---- Adagrad ----------------------------------------------------------------------

TEST(Adagrad, StepsMatchHandComputedValuesAndFormula) {
  for (DType dt : kDtypes) {
    // w = 1, g = 0.5, lr = 0.1: accumulator = 0.1 + 0.25 = 0.35,
    // w1 = 1 - 0.05 / sqrt(0.35 + 1e-7) = 0.915484...
    auto p = make_param("w", {1.0}, dt);
    Adagrad opt({.learning_rate = 0.1});
    run_steps(opt, p, {{0.5}});
    expect_close(p->value, {1 - 0.05 / std::sqrt(0.35 + 1e-7)}, dt);
    EXPECT_NEAR(p->value.item(), 0.9154846, 1e-6);

    auto q = make_param("w", kW0, dt);
    Adagrad three({.learning_rate = 0.2, .initial_accumulator_value = 0.5, .epsilon = 1e-3});
    run_steps(three, q, kGrads);
    std::vector<double> expected, acc;
    for (size_t i = 0; i < kW0.size(); ++i) {
      double w = kW0[i], a = 0.5;
      for (const auto& g : kGrads) {
        a += g[i] * g[i];
        w -= 0.2 * g[i] / std::sqrt(a + 1e-3);
      }
      expected.push_back(w);
      acc.push_back(a);
    }
    expect_close(q->value, expected, dt);
    expect_close(three.state().at("adagrad/accumulator/w"), acc, dt);
  }
}

// ---- gradient processing ------------------------------------------------------------

TEST(Clipping, ClipValueClipsEachElement) {
  for (DType dt : kDtypes) {
    auto p = make_param("w", {0, 0, 0}, dt);
    SGD opt({.learning_rate = 1.0, .clipvalue = 1.0});
    run_steps(opt, p, {{3.0, -0.2, -5.0}});
    expect_close(p->value, {-1.0, 0.2, 1.0}, dt);
  }
}

TEST(Clipping, ClipNormIsPerParameter) {
  for (DType dt : kDtypes) {
    auto a = make_param("a", {0, 0}, dt), b = make_param("b", {0, 0}, dt);
    SGD opt({.learning_rate = 1.0, .clipnorm = 1.0});
    set_grad(a, {3, 4});      // norm 5 -> scaled to norm 1
    set_grad(b, {0.3, 0.4});  // norm 0.5 -> unchanged
    opt.step({a, b});
    expect_close(a->value, {-0.6, -0.8}, dt);
    expect_close(b->value, {-0.3, -0.4}, dt);
    // The gradient itself is left as the tape wrote it.
    expect_close(a->grad(), {3, 4}, dt);
  }
}

TEST(Clipping, GlobalClipNormScalesAllTogether) {
  for (DType dt : kDtypes) {
    auto a = make_param("a", {0, 0}, dt), b = make_param("b", {0}, dt);
    SGD opt({.learning_rate = 1.0, .global_clipnorm = 1.3});
    set_grad(a, {3, 4});
    set_grad(b, {12});  // global norm sqrt(9 + 16 + 144) = 13 -> scale 0.1
    opt.step({a, b});
    expect_close(a->value, {-0.3, -0.4}, dt);
    expect_close(b->value, {-1.2}, dt);
    // Within bounds: unchanged.
    set_grad(a, {0.3, 0.4});
    set_grad(b, {1.2});
    opt.step({a, b});
    expect_close(a->value, {-0.6, -0.8}, dt);
    expect_close(b->value, {-2.4}, dt);
  }
}

TEST(Clipping, ClipValueAppliesBeforeClipNorm) {
  for (DType dt : kDtypes) {
    auto p = make_param("w", {0, 0}, dt);
    SGD opt({.learning_rate = 1.0, .clipnorm = 2.0, .clipvalue = 3.5});
    run_steps(opt, p, {{3.0, 4.0}});
    // clipvalue: (3, 3.5); its norm sqrt(21.25) > 2, so scale by 2 / sqrt(21.25)
    double s = 2.0 / std::sqrt(21.25);
    expect_close(p->value, {-3.0 * s, -3.5 * s}, dt);
  }
}

TEST(Clipping, ClipNormAndGlobalClipNormAreExclusive) {
  EXPECT_LOOM_ERROR(SGD({.clipnorm = 1.0, .global_clipnorm = 1.0}),
                    "SGD: at most one of clipnorm and global_clipnorm");
}

// ---- weight decay -------------------------------------------------------------------

TEST(WeightDecay, DecoupledDecayBeforeTheUpdate) {
  for (DType dt : kDtypes) {
    // w = 2, g = 1, lr = 0.1, weight_decay = 0.5: w = 2 - 2 * 0.5 * 0.1 = 1.9, then 1.9 - 0.1
    auto p = make_param("w", {2.0}, dt);
    SGD opt({.learning_rate = 0.1, .weight_decay = 0.5});
    run_steps(opt, p, {{1.0}});
    expect_close(p->value, {1.8}, dt);

    // Adam: the decay does not enter the moments.
    auto q = make_param("w", kW0, dt);
    Adam adam({.learning_rate = 0.01, .weight_decay = 0.1});
    run_steps(adam, q, kGrads);
    std::vector<double> expected;
    for (size_t i = 0; i < kW0.size(); ++i) {
      AdamRef ref{0.01, 0.9, 0.999, 1e-7};
      double w = kW0[i];
      for (int t = 0; t < 3; ++t) {
        w -= w * 0.1 * 0.01;
        w = ref.step(w, kGrads[t][i], t + 1);
      }
      expected.push_back(w);
    }
    expect_close(q->value, expected, dt);
  }
}

TEST(WeightDecay, ExcludedParametersAreNotDecayed) {
  auto kernel = make_param("dense/kernel", {2.0}, DType::f64);
  auto bias = make_param("dense/bias", {2.0}, DType::f64);
  SGD opt({.learning_rate = 0.1, .weight_decay = 0.5});
  opt.exclude_from_weight_decay({"bias"});
  set_grad(kernel, {1.0});
  set_grad(bias, {1.0});
  opt.step({kernel, bias});
  expect_close(kernel->value, {1.8}, DType::f64);
  expect_close(bias->value, {1.9}, DType::f64);
  EXPECT_LOOM_ERROR(opt.exclude_from_weight_decay({"("}), "not a valid regular expression");
}

// ---- schedules ---------------------------------------------------------------------------

TEST(Schedules, ExponentialDecayValues) {
  ExponentialDecay s(0.1, 10, 0.5);
  EXPECT_DOUBLE_EQ(s(0), 0.1);
  EXPECT_DOUBLE_EQ(s(5), 0.1 * std::pow(0.5, 0.5));
  EXPECT_DOUBLE_EQ(s(10), 0.05);
  EXPECT_DOUBLE_EQ(s(25), 0.1 * std::pow(0.5, 2.5));
  ExponentialDecay stair(0.1, 10, 0.5, /*staircase=*/true);
  EXPECT_DOUBLE_EQ(stair(9), 0.1);
  EXPECT_DOUBLE_EQ(stair(10), 0.05);
  EXPECT_DOUBLE_EQ(stair(25), 0.025);
}

TEST(Schedules, InverseTimeDecayValues) {
  InverseTimeDecay s(1.0, 10, 0.5);
  EXPECT_DOUBLE_EQ(s(0), 1.0);
  EXPECT_DOUBLE_EQ(s(10), 1.0 / 1.5);
  EXPECT_DOUBLE_EQ(s(15), 1.0 / 1.75);
  InverseTimeDecay stair(1.0, 10, 0.5, true);
  EXPECT_DOUBLE_EQ(stair(15), 1.0 / 1.5);
}

TEST(Schedules, PiecewiseConstantValues) {
  PiecewiseConstantDecay s({10, 20}, {1.0, 0.5, 0.1});
  EXPECT_EQ(s(0), 1.0);
  EXPECT_EQ(s(10), 1.0);  // a boundary step still uses the earlier value (step <= boundary)
  EXPECT_EQ(s(11), 0.5);
  EXPECT_EQ(s(20), 0.5);
  EXPECT_EQ(s(21), 0.1);
  EXPECT_EQ(s(1000000), 0.1);
}

TEST(Schedules, CosineDecayValues) {
  CosineDecay s(1.0, 100, 0.1);
  EXPECT_DOUBLE_EQ(s(0), 1.0);
  EXPECT_NEAR(s(50), 0.9 * 0.5 + 0.1, 1e-15);
  EXPECT_NEAR(s(25), 0.9 * 0.5 * (1 + std::cos(M_PI / 4)) + 0.1, 1e-15);
  EXPECT_NEAR(s(100), 0.1, 1e-15);
  EXPECT_NEAR(s(500), 0.1, 1e-15);  // held at alpha * initial after decay_steps

  // Warmup: linear from 0 to 2 over 10 steps, then cosine from 2 over 100 steps.
  CosineDecay w(0.0, 100, 0.0, 2.0, 10);
  EXPECT_DOUBLE_EQ(w(0), 0.0);
  EXPECT_DOUBLE_EQ(w(5), 1.0);
  EXPECT_DOUBLE_EQ(w(10), 2.0);
  EXPECT_NEAR(w(60), 1.0, 1e-15);
  EXPECT_NEAR(w(110), 0.0, 1e-15);
  EXPECT_NEAR(w(1000), 0.0, 1e-15);
}

TEST(Schedules, OptimizerEvaluatesTheScheduleAtItsIterationCount) {
  for (DType dt : kDtypes) {
    // lr 1 for iterations 0 and 1, 0.1 afterwards.
    auto p = make_param("w", {0.0}, dt);
    SGD opt({.learning_rate = std::make_shared<PiecewiseConstantDecay>(
                 std::vector<double>{1}, std::vector<double>{1.0, 0.1})});
    EXPECT_EQ(opt.learning_rate(), 1.0);
    run_steps(opt, p, {{1.0}, {1.0}});
    expect_close(p->value, {-2.0}, dt);
    EXPECT_EQ(opt.learning_rate(), 0.1);
    run_steps(opt, p, {{1.0}});
    expect_close(p->value, {-2.1}, dt);

    // Exponential decay through Adagrad: each step's lr is schedule(iterations).
    auto q = make_param("w", {1.0}, dt);
    auto sched = std::make_shared<ExponentialDecay>(0.5, 1, 0.5);
    Adagrad ada({.learning_rate = sched});
    run_steps(ada, q, {{kGrads[0][0]}, {kGrads[1][0]}, {kGrads[2][0]}});
    double w = 1.0, acc = 0.1;
    for (int t = 0; t < 3; ++t) {
      acc += kGrads[t][0] * kGrads[t][0];
      w -= (*sched)(t) * kGrads[t][0] / std::sqrt(acc + 1e-7);
    }
    expect_close(q->value, {w}, dt);
  }
}

TEST(Schedules, SettableLearningRate) {
  auto p = make_param("w", {0.0}, DType::f64);
  SGD opt({.learning_rate = 1.0});
  run_steps(opt, p, {{1.0}});
  opt.set_learning_rate(0.25);  // as ReduceLROnPlateau does
  EXPECT_EQ(opt.learning_rate(), 0.25);
  run_steps(opt, p, {{1.0}});
  expect_close(p->value, {-1.25}, DType::f64);
  EXPECT_LOOM_ERROR(opt.set_learning_rate(-1.0), "learning_rate must be");

  SGD scheduled({.learning_rate = std::make_shared<CosineDecay>(1.0, 10)});
  EXPECT_LOOM_ERROR(scheduled.set_learning_rate(0.5), "CosineDecay");
  // Switching to another schedule is allowed.
  scheduled.set_learning_rate(std::make_shared<ExponentialDecay>(0.3, 1, 0.5));
  EXPECT_DOUBLE_EQ(scheduled.learning_rate(), 0.3);
}

TEST(Schedules, InvalidArgumentsThrow) {
  EXPECT_LOOM_ERROR(ExponentialDecay(0.1, 0, 0.5), "ExponentialDecay: decay_steps");
  EXPECT_LOOM_ERROR(ExponentialDecay(-0.1, 10, 0.5), "ExponentialDecay: initial_learning_rate");
  EXPECT_LOOM_ERROR(ExponentialDecay(0.1, 10, 0), "ExponentialDecay: decay_rate");
  EXPECT_LOOM_ERROR(PiecewiseConstantDecay({10, 20}, {1.0, 0.5}), "one more entry");
  EXPECT_LOOM_ERROR(PiecewiseConstantDecay({20, 10}, {1.0, 0.5, 0.1}), "boundaries must increase");
  EXPECT_LOOM_ERROR(CosineDecay(1.0, 100, 1.5), "CosineDecay: alpha");
  EXPECT_LOOM_ERROR(CosineDecay(1.0, -1), "CosineDecay: decay_steps");
  EXPECT_LOOM_ERROR(InverseTimeDecay(1.0, 10, -1), "InverseTimeDecay: decay_rate");
}

TEST(Schedules, ConfigRoundTrip) {
  std::vector<SchedulePtr> all = {
      std::make_shared<ExponentialDecay>(0.1, 7, 0.3, true),
      std::make_shared<InverseTimeDecay>(0.2, 3, 0.7),
      std::make_shared<PiecewiseConstantDecay>(std::vector<double>{5, 15},
                                               std::vector<double>{0.3, 0.03, 0.003}),
      std::make_shared<CosineDecay>(0.1, 50, 0.05, 0.4, 5)};
  for (const SchedulePtr& s : all) {
    SchedulePtr back = make_schedule(s->name(), s->config());
    EXPECT_EQ(back->name(), s->name());
    EXPECT_EQ(back->config(), s->config());
    for (int64_t step : {0, 1, 4, 5, 6, 20, 60, 100}) EXPECT_EQ((*back)(step), (*s)(step)) << step;
  }
  EXPECT_LOOM_ERROR(make_schedule("StepLR", {}), "unknown learning-rate schedule 'StepLR'");
  EXPECT_LOOM_ERROR(make_schedule("ExponentialDecay", {{"initial_learning_rate", "0.1"}}),
                    "required key 'decay_steps'");
  EXPECT_LOOM_ERROR(make_schedule("CosineDecay", {{"initial_learning_rate", "0.1"},
                                                  {"decay_steps", "10"},
                                                  {"alpfa", "0.1"}}),
                    "unknown config key 'alpfa'");
}

// ---- sparse (lazy) row updates ---------------------------------------------------------

// A (6, 4) table with distinct values.
std::vector<double> table_values() {
  std::vector<double> v;
  for (int i = 0; i < 24; ++i) v.push_back(0.1 * i - 1.0);
  return v;
}
// A gradient with rows `rows` non-zero (and zeros elsewhere, as an embedding's
// scatter-add leaves them).
std::vector<double> row_grad(const std::vector<int64_t>& rows, double base) {
  std::vector<double> g(24, 0.0);
  for (int64_t r : rows)
    for (int j = 0; j < 4; ++j) g[r * 4 + j] = base + 0.3 * r - 0.2 * j;
  return g;
}

struct NamedFactory {
  std::string name;
  OptimizerConfig config;
};
const std::vector<NamedFactory> kSparseCases = {
    {"sgd", {{"learning_rate", "0.1"}, {"momentum", "0.9"}, {"nesterov", "true"}}},
    {"adam", {{"learning_rate", "0.01"}, {"amsgrad", "true"}}},
    {"adam", {{"learning_rate", "0.01"}}},
    {"rmsprop", {{"learning_rate", "0.01"}, {"momentum", "0.5"}, {"centered", "true"}}},
    {"adagrad", {{"learning_rate", "0.1"}, {"clipvalue", "0.5"}}},
};

TEST(Sparse, TouchedRowsUpdateAsDenseAndOthersStayBitIdentical) {
  for (const NamedFactory& c : kSparseCases) {
    for (DType dt : kDtypes) {
      SCOPED_TRACE(c.name + " " + dtype_name(dt));
      auto sparse = make_param("emb", table_values(), {6, 4}, dt);
      auto dense = make_param("emb", table_values(), {6, 4}, dt);
      sparse->touched_rows = std::make_shared<std::set<int64_t>>();
      auto opt_s = make_optimizer(c.name, c.config), opt_d = make_optimizer(c.name, c.config);
      const Tensor initial = sparse->value.clone().detach();

      // Step 1: rows 1 and 4.
      *sparse->touched_rows = {1, 4};
      set_grad(sparse, row_grad({1, 4}, 0.5));
      set_grad(dense, row_grad({1, 4}, 0.5));
      opt_s->step({sparse});
      opt_d->step({dense});
      EXPECT_TRUE(sparse->touched_rows->empty()) << "the step clears the touched set";
      for (int64_t r : {1, 4}) EXPECT_EQ(row_bytes(sparse->value, r), row_bytes(dense->value, r));
      for (int64_t r : {0, 2, 3, 5}) EXPECT_EQ(row_bytes(sparse->value, r), row_bytes(initial, r));
      const Tensor after1 = sparse->value.clone().detach();
      const OptimizerState state1 = opt_s->state();

      // Step 2: rows 1 and 2. Row 1 was touched both times and row 2 first
      // now, so both match the dense rule; row 4 (value and slots) stays as
      // step 1 left it, where the dense rule would move it on its momentum.
      *sparse->touched_rows = {1, 2};
      set_grad(sparse, row_grad({1, 2}, -0.25));
      set_grad(dense, row_grad({1, 2}, -0.25));
      opt_s->step({sparse});
      opt_d->step({dense});
      for (int64_t r : {1, 2}) EXPECT_EQ(row_bytes(sparse->value, r), row_bytes(dense->value, r));
      EXPECT_EQ(row_bytes(sparse->value, 4), row_bytes(after1, 4));
      for (int64_t r : {0, 3, 5}) EXPECT_EQ(row_bytes(sparse->value, r), row_bytes(initial, r));
      const OptimizerState state2 = opt_s->state(), dense2 = opt_d->state();
      for (const auto& [key, slot] : state2) {
        if (key == "iterations" || key == "learning_rate") continue;
        EXPECT_EQ(row_bytes(slot, 4), row_bytes(state1.at(key), 4)) << key;
        for (int64_t r : {1, 2}) EXPECT_EQ(row_bytes(slot, r), row_bytes(dense2.at(key), r)) << key;
      }
      EXPECT_EQ(opt_s->iterations(), 2);
    }
  }
}

TEST(Sparse, WeightDecayAppliesToTouchedRowsOnly) {
  for (DType dt : kDtypes) {
    auto sparse = make_param("emb", table_values(), {6, 4}, dt);
    auto dense = make_param("emb", table_values(), {6, 4}, dt);
    const Tensor initial = sparse->value.clone().detach();
    sparse->touched_rows = std::make_shared<std::set<int64_t>>(std::set<int64_t>{3});
    Adam a({.learning_rate = 0.01, .weight_decay = 0.5}), b({.learning_rate = 0.01, .weight_decay = 0.5});
    set_grad(sparse, row_grad({3}, 0.7));
    set_grad(dense, row_grad({3}, 0.7));
    a.step({sparse});
    b.step({dense});
    EXPECT_EQ(row_bytes(sparse->value, 3), row_bytes(dense->value, 3));
    for (int64_t r : {0, 1, 2, 4, 5}) {
      EXPECT_EQ(row_bytes(sparse->value, r), row_bytes(initial, r));
      // The dense rule decays every row: w (1 - 0.5 * 0.01).
      std::vector<double> w0 = initial.select(0, r).to_vector<double>();
      for (double& x : w0) x -= x * 0.5 * 0.01;
      expect_close(dense->value.select(0, r), w0, dt);
    }
  }
}

TEST(Sparse, ClipNormMeasuresTouchedRows) {
  for (DType dt : kDtypes) {
    auto sparse = make_param("emb", table_values(), {6, 4}, dt);
    auto dense = make_param("emb", table_values(), {6, 4}, dt);
    sparse->touched_rows = std::make_shared<std::set<int64_t>>(std::set<int64_t>{0, 5});
    SGD a({.learning_rate = 0.1, .clipnorm = 0.5}), b({.learning_rate = 0.1, .clipnorm = 0.5});
    set_grad(sparse, row_grad({0, 5}, 1.0));
    set_grad(dense, row_grad({0, 5}, 1.0));
    a.step({sparse});
    b.step({dense});
    // The norms are summed in another order, so equal up to rounding.
    expect_close(sparse->value, dense->value.to_vector<double>(), dt);
    EXPECT_NE(row_bytes(sparse->value, 0), row_bytes(make_param("x", table_values(), {6, 4}, dt)->value, 0));
  }
}

TEST(Sparse, LargeTableUpdatesOnlyTouchedRows) {
  // The sentiment model's embedding: (20000, 128), a batch touching a few rows.
  Generator gen(3);
  const int64_t V = 20000, E = 128;
  auto table = std::make_shared<Parameter>("embedding/embeddings",
                                           Tensor::uniform({V, E}, -0.05, 0.05, gen));
  table->touched_rows = std::make_shared<std::set<int64_t>>(std::set<int64_t>{7, 19999, 12345});
  const Tensor before = table->value.clone().detach();
  Tensor g = Tensor::zeros({V, E});
  float* gp = g.data<float>();
  for (int64_t r : *table->touched_rows)
    for (int64_t j = 0; j < E; ++j) gp[r * E + j] = 0.01f * static_cast<float>(j + 1);
  table->value.set_grad(g);
  Adam opt({.learning_rate = 0.01});
  opt.step({table});
  const float* w0 = before.data<float>();
  const float* w1 = table->value.data<float>();
  int64_t changed_rows = 0;
  for (int64_t r = 0; r < V; ++r) {
    bool changed = std::memcmp(w0 + r * E, w1 + r * E, E * sizeof(float)) != 0;
    changed_rows += changed;
    EXPECT_EQ(changed, r == 7 || r == 12345 || r == 19999) << "row " << r;
  }
  EXPECT_EQ(changed_rows, 3);
  // Adam's first step moves each touched element by ~lr against its gradient.
  EXPECT_NEAR(w1[7 * E + 3], w0[7 * E + 3] - 0.01f, 1e-6);
}

TEST(Sparse, TouchedRowOutOfRangeThrows) {
  auto p = make_param("emb", table_values(), {6, 4}, DType::f32);
  p->touched_rows = std::make_shared<std::set<int64_t>>(std::set<int64_t>{2, 6});
  set_grad(p, row_grad({2}, 1.0));
  Adam opt;
  EXPECT_LOOM_ERROR(opt.step({p}), "Adam.step: parameter 'emb' (shape (6, 4)) has touched row 6");
}

// ---- dense paths over threads -------------------------------------------------------------

TEST(Optimizer, LargeDenseParameterMatchesFormula) {
  // Large enough to be split over threads; every element follows the rule.
  const int64_t n = 300001;
  Generator gen(11);
  for (DType dt : kDtypes) {
    Tensor w0 = Tensor::uniform({n}, -1, 1, gen, dt);
    Tensor g0 = Tensor::uniform({n}, -1, 1, gen, dt);
    auto p = std::make_shared<Parameter>("big", w0.clone().detach());
    p->value.set_grad(g0);
    RMSprop opt({.learning_rate = 0.01, .momentum = 0.5, .centered = true, .clipnorm = 100.0});
    opt.step({p});
    std::vector<double> w = w0.to_vector<double>(), g = g0.to_vector<double>();
    double sq = 0;
    for (double x : g) sq += x * x;
    const double scale = std::sqrt(sq) > 100.0 ? 100.0 / std::sqrt(sq) : 1.0;
    std::vector<double> expected(n);
    for (int64_t i = 0; i < n; ++i) {
      RMSpropRef ref{0.01, 0.9, 0.5, 1e-7, true};
      expected[i] = ref.step(w[i], g[i] * scale);
    }
    expect_close(p->value, expected, dt);
  }
}

// ---- step bookkeeping -------------------------------------------------------------------------

TEST(Optimizer, SkipsFrozenAndGradlessParametersAndUpdatesInPlace) {
  auto a = make_param("a", {1.0}, DType::f32), b = make_param("b", {1.0}, DType::f32);
  auto frozen = make_param("frozen", {1.0}, DType::f32);
  frozen->trainable = false;
  frozen->value.set_grad(Tensor::of({1.0}));
  const void* storage = a->value.raw_data();
  SGD opt({.learning_rate = 0.5});
  // No parameter has a gradient: a no-op that does not count.
  opt.step({a, b});
  EXPECT_EQ(opt.iterations(), 0);
  set_grad(a, {1.0});
  opt.step({a, b, frozen});
  EXPECT_EQ(opt.iterations(), 1);
  EXPECT_EQ(a->value.item(), 0.5);
  EXPECT_EQ(b->value.item(), 1.0);
  EXPECT_EQ(frozen->value.item(), 1.0);
  // In place, and still a leaf that requires grad (nothing was recorded).
  EXPECT_EQ(a->value.raw_data(), storage);
  EXPECT_TRUE(a->value.is_leaf());
  EXPECT_TRUE(a->value.requires_grad());
  // zero_grad drops gradients and touched rows.
  a->touched_rows = std::make_shared<std::set<int64_t>>(std::set<int64_t>{0});
  Optimizer::zero_grad({a, b});
  EXPECT_FALSE(a->grad().defined());
  EXPECT_TRUE(a->touched_rows->empty());
}

TEST(Optimizer, StepErrorsNameTheParameter) {
  SGD opt;
  auto a = make_param("dense/kernel", {1.0}, DType::f32);
  auto twin = make_param("dense/kernel", {1.0}, DType::f32);
  set_grad(a, {1.0});
  EXPECT_LOOM_ERROR(opt.step({a, twin}), "two parameters are named 'dense/kernel'");
  auto unnamed = make_param("", {1.0}, DType::f32);
  EXPECT_LOOM_ERROR(opt.step({unnamed}), "SGD.step: a trainable parameter of shape (1,) has no name");
  EXPECT_LOOM_ERROR(opt.step({nullptr}), "null pointer");
}

// ---- state -------------------------------------------------------------------------------------------

const std::vector<NamedFactory> kStateCases = {
    {"sgd", {{"learning_rate", "0.1"}, {"momentum", "0.9"}}},
    {"adam", {{"learning_rate", "0.01"}, {"amsgrad", "true"}}},
    {"rmsprop", {{"learning_rate", "0.01"}, {"momentum", "0.5"}, {"centered", "true"}}},
    {"adagrad", {{"learning_rate", "0.1"}}},
    {"adam",
     {{"learning_rate", "CosineDecay"},
      {"learning_rate.initial_learning_rate", "0.05"},
      {"learning_rate.decay_steps", "4"}}},
};

TEST(State, SaveLoadContinuesIdentically) {
  for (const NamedFactory& c : kStateCases) {
    for (DType dt : kDtypes) {
      SCOPED_TRACE(c.name + " " + dtype_name(dt));
      auto k1 = make_param("dense/kernel", {0.5, -0.25, 1.0, 2.0}, {2, 2}, dt);
      auto b1 = make_param("dense/bias", {0.1, -0.1}, dt);
      auto original = make_optimizer(c.name, c.config);
      auto grads = [](int step) {
        return std::pair{std::vector<double>{0.3 * step, -0.2, 0.1, 1.0 - step},
                         std::vector<double>{0.05, -0.5 * step}};
      };
      auto run = [&](Optimizer& opt, const ParameterPtr& k, const ParameterPtr& b, int from,
                     int to) {
        for (int s = from; s < to; ++s) {
          auto [gk, gb] = grads(s);
          set_grad(k, gk);
          set_grad(b, gb);
          opt.step({k, b});
          Optimizer::zero_grad({k, b});
        }
      };
      run(*original, k1, b1, 0, 2);
      if (!original->schedule()) original->set_learning_rate(original->learning_rate() * 0.5);
      OptimizerState saved = original->state();
      EXPECT_EQ(saved.at("iterations").dtype(), DType::i64);
      EXPECT_EQ(saved.at("iterations").item(), 2);
      const std::map<std::string, std::string> first_slot = {
          {"sgd", "momentum"}, {"adam", "m"}, {"rmsprop", "velocity"}, {"adagrad", "accumulator"}};
      EXPECT_EQ(original->state_prefix(), c.name);
      EXPECT_EQ(saved.count(c.name + "/" + first_slot.at(c.name) + "/dense/kernel"), 1u);
      EXPECT_EQ(saved.count(c.name + "/" + first_slot.at(c.name) + "/dense/bias"), 1u);

      // A fresh optimizer with the same config, the restored state and
      // copies of the weights continues exactly like the original.
      auto restored = make_optimizer(original->name(), original->config());
      restored->load_state(saved);
      EXPECT_EQ(restored->iterations(), 2);
      EXPECT_EQ(restored->learning_rate(), original->learning_rate());
      auto k2 = make_param("dense/kernel", k1->value.to_vector<double>(), {2, 2}, dt);
      auto b2 = make_param("dense/bias", b1->value.to_vector<double>(), dt);
      run(*original, k1, b1, 2, 5);
      run(*restored, k2, b2, 2, 5);
      EXPECT_EQ(bytes_of(k1->value), bytes_of(k2->value));
      EXPECT_EQ(bytes_of(b1->value), bytes_of(b2->value));
      // state() returned copies: the later steps did not change `saved`.
      EXPECT_EQ(saved.at("iterations").item(), 2);
      OptimizerState now = original->state();
      for (const auto& [key, t] : now) {
        if (key == "iterations" || key == "learning_rate") continue;
        EXPECT_EQ(bytes_of(t), bytes_of(restored->state().at(key))) << key;
        EXPECT_NE(bytes_of(t), bytes_of(saved.at(key))) << key;
      }
    }
  }
}

TEST(State, LoadErrorsNameTheEntry) {
  Adam opt;
  auto zeros = Tensor::zeros({2});
  auto iters = Tensor::full({}, 3, DType::i64);
  EXPECT_LOOM_ERROR(opt.load_state({{"adam/m/w", zeros}, {"adam/v/w", zeros}}),
                    "Adam.load_state: the state has no 'iterations' entry");
  EXPECT_LOOM_ERROR(opt.load_state({{"iterations", iters}, {"sgd/momentum/w", zeros}}),
                    "entry 'sgd/momentum/w' does not belong to this optimizer");
  EXPECT_LOOM_ERROR(opt.load_state({{"iterations", iters}, {"adam/vhat/w", zeros}}),
                    "names slot 'vhat', which this optimizer does not have (slots: m, v)");
  EXPECT_LOOM_ERROR(opt.load_state({{"iterations", iters}, {"adam/m/w", zeros}}),
                    "parameter 'w' has some slots but lacks 'adam/v/w'");
  EXPECT_EQ(opt.iterations(), 0) << "a failed load leaves the state unchanged";

  // A slot whose shape does not fit its parameter fails at the next step.
  opt.load_state({{"iterations", iters}, {"adam/m/w", zeros}, {"adam/v/w", zeros}});
  EXPECT_EQ(opt.iterations(), 3);
  auto p = make_param("w", {1, 2, 3}, DType::f32);
  set_grad(p, {1, 1, 1});
  EXPECT_LOOM_ERROR(opt.step({p}), "Adam: state slot 'adam/m/w' has shape (2,) but parameter 'w' "
                                   "has shape (3,)");

  SGD scheduled({.learning_rate = std::make_shared<CosineDecay>(0.1, 10)});
  EXPECT_LOOM_ERROR(
      scheduled.load_state({{"iterations", iters}, {"learning_rate", Tensor::scalar(0.1)}}),
      "follows the schedule CosineDecay");
}

// ---- config and factory ------------------------------------------------------------------------

TEST(Config, RoundTripThroughTheFactory) {
  std::vector<std::unique_ptr<Optimizer>> all;
  all.push_back(std::make_unique<SGD>(
      SGDOptions{.learning_rate = 0.03, .momentum = 0.5, .nesterov = true, .clipvalue = 2.0}));
  all.push_back(std::make_unique<Adam>(AdamOptions{.learning_rate = 3e-4,
                                                   .beta_1 = 0.8,
                                                   .beta_2 = 0.99,
                                                   .epsilon = 1e-6,
                                                   .amsgrad = true,
                                                   .weight_decay = 0.01,
                                                   .global_clipnorm = 5.0}));
  all.push_back(std::make_unique<RMSprop>(RMSpropOptions{
      .learning_rate = std::make_shared<ExponentialDecay>(0.01, 100, 0.9, true),
      .rho = 0.95,
      .momentum = 0.1,
      .epsilon = 1e-5,
      .centered = true,
      .clipnorm = 1.0}));
  all.push_back(std::make_unique<Adagrad>(AdagradOptions{
      .learning_rate = std::make_shared<PiecewiseConstantDecay>(std::vector<double>{3},
                                                                std::vector<double>{0.5, 0.05}),
      .initial_accumulator_value = 0.2,
      .epsilon = 1e-4}));
  for (const auto& opt : all) {
    SCOPED_TRACE(opt->name());
    OptimizerConfig c = opt->config();
    auto back = make_optimizer(opt->name(), c);
    EXPECT_EQ(back->name(), opt->name());
    EXPECT_EQ(back->config(), c);
    // And behaves the same.
    auto p = make_param("w", kW0, DType::f64), q = make_param("w", kW0, DType::f64);
    run_steps(*opt, p, kGrads);
    run_steps(*back, q, kGrads);
    EXPECT_EQ(bytes_of(p->value), bytes_of(q->value));
  }
  OptimizerConfig adam = Adam().config();
  EXPECT_EQ(adam.at("learning_rate"), "0.001");
  EXPECT_EQ(adam.at("epsilon"), "1e-07");
  EXPECT_EQ(adam.at("amsgrad"), "false");
  EXPECT_EQ(adam.count("clipnorm"), 0u);
  EXPECT_EQ(Adagrad().config().at("initial_accumulator_value"), "0.1");
  EXPECT_EQ(RMSprop().config().at("rho"), "0.9");
  EXPECT_EQ(SGD().config().at("learning_rate"), "0.01");
}

TEST(Config, FactoryTakesKerasNamesDefaultsAndExtras) {
  auto sgd = make_optimizer("SGD");
  EXPECT_EQ(sgd->name(), "SGD");
  EXPECT_EQ(sgd->learning_rate(), 0.01);
  auto adam = make_optimizer("adam", {{"learning_rate", "0.002"}});
  EXPECT_EQ(adam->learning_rate(), 0.002);
  EXPECT_EQ(dynamic_cast<Adam&>(*adam).beta_2(), 0.999);
  EXPECT_EQ(dynamic_cast<Adam&>(*adam).epsilon(), 1e-7);
  auto adamw = make_optimizer("AdamW");
  EXPECT_EQ(adamw->weight_decay().value_or(-1), 0.004);
  // What tf.keras's get_config() writes for an optimizer.
  auto keras = make_optimizer("RMSprop", {{"name", "RMSprop"},
                                          {"learning_rate", "0.0010000000474974513"},
                                          {"rho", "0.9"},
                                          {"momentum", "0.0"},
                                          {"epsilon", "1e-07"},
                                          {"centered", "False"},
                                          {"weight_decay", "None"},
                                          {"clipnorm", "None"},
                                          {"global_clipnorm", "None"},
                                          {"clipvalue", "None"},
                                          {"use_ema", "False"},
                                          {"ema_momentum", "0.99"},
                                          {"ema_overwrite_frequency", "100"},
                                          {"jit_compile", "True"},
                                          {"is_legacy_optimizer", "False"}});
  EXPECT_EQ(keras->name(), "RMSprop");
  EXPECT_FALSE(keras->clipnorm().has_value());
  EXPECT_LOOM_ERROR(make_optimizer("adadelta"), "unknown optimizer 'adadelta'");
  EXPECT_LOOM_ERROR(make_optimizer("adam", {{"beta1", "0.9"}}), "Adam: unknown config key 'beta1'");
  EXPECT_LOOM_ERROR(make_optimizer("adam", {{"beta_1", "zero"}}),
                    "Adam: config key 'beta_1' expects a number, got 'zero'");
  EXPECT_LOOM_ERROR(make_optimizer("sgd", {{"nesterov", "yes"}}), "expects true or false");
  EXPECT_LOOM_ERROR(make_optimizer("sgd", {{"use_ema", "True"}}), "use_ema=true");
  EXPECT_LOOM_ERROR(make_optimizer("sgd", {{"decay", "0.01"}}), "legacy 'decay'");
  EXPECT_LOOM_ERROR(make_optimizer("sgd", {{"learning_rate", "Warmup"}}),
                    "unknown learning-rate schedule 'Warmup'");
}

// ---- invalid arguments ----------------------------------------------------------------------

TEST(Arguments, InvalidValuesThrowNamingTheArgument) {
  EXPECT_LOOM_ERROR(SGD({.learning_rate = -0.1}), "SGD: learning_rate must be");
  EXPECT_LOOM_ERROR(SGD({.momentum = 1.5}), "SGD: momentum must be in [0, 1]");
  EXPECT_LOOM_ERROR(SGD({.momentum = -0.1}), "SGD: momentum");
  EXPECT_LOOM_ERROR(Adam({.beta_1 = 1.0}), "Adam: beta_1 must be in [0, 1)");
  EXPECT_LOOM_ERROR(Adam({.beta_2 = -0.5}), "Adam: beta_2 must be in [0, 1)");
  EXPECT_LOOM_ERROR(Adam({.epsilon = -1e-7}), "Adam: epsilon");
  EXPECT_LOOM_ERROR(Adam({.learning_rate = std::nan("")}), "Adam: learning_rate");
  EXPECT_LOOM_ERROR(RMSprop({.rho = 1.0}), "RMSprop: rho must be in [0, 1)");
  EXPECT_LOOM_ERROR(RMSprop({.momentum = 2.0}), "RMSprop: momentum");
  EXPECT_LOOM_ERROR(Adagrad({.initial_accumulator_value = -0.1}),
                    "Adagrad: initial_accumulator_value");
  EXPECT_LOOM_ERROR(Adagrad({.epsilon = -1.0}), "Adagrad: epsilon");
  EXPECT_LOOM_ERROR(Adam({.clipnorm = 0.0}), "Adam: clipnorm must be > 0");
  EXPECT_LOOM_ERROR(Adam({.clipvalue = -1.0}), "Adam: clipvalue must be > 0");
  EXPECT_LOOM_ERROR(RMSprop({.global_clipnorm = 0.0}), "RMSprop: global_clipnorm must be > 0");
  EXPECT_LOOM_ERROR(Adagrad({.weight_decay = -0.01}), "Adagrad: weight_decay must be >= 0");
}

// ---- minimizing a quadratic -------------------------------------------------------------------

TEST(Convergence, EveryOptimizerMinimizesAQuadratic) {
  // f(w) = sum_i c_i (w_i - target_i)^2, minimum at target.
  const std::vector<double> target = {0.5, 1.0, -1.0, 0.0};
  const std::vector<NamedFactory> cases = {
      {"sgd", {{"learning_rate", "0.05"}}},
      {"sgd", {{"learning_rate", "0.02"}, {"momentum", "0.9"}}},
      {"sgd", {{"learning_rate", "0.02"}, {"momentum", "0.9"}, {"nesterov", "true"}}},
      {"adam", {{"learning_rate", "0.02"}}},
      {"adam", {{"learning_rate", "0.02"}, {"amsgrad", "true"}}},
      // With a constant rate RMSprop's steps stay ~lr in size (g / sqrt(v) ~ 1
      // on a deterministic problem), so it circles the optimum; a decaying
      // rate lets it settle.
      {"rmsprop",
       {{"learning_rate", "CosineDecay"},
        {"learning_rate.initial_learning_rate", "0.02"},
        {"learning_rate.decay_steps", "2000"}}},
      {"rmsprop",
       {{"learning_rate", "ExponentialDecay"},
        {"learning_rate.initial_learning_rate", "0.02"},
        {"learning_rate.decay_steps", "200"},
        {"learning_rate.decay_rate", "0.5"},
        {"centered", "true"},
        {"momentum", "0.5"}}},
      {"adagrad", {{"learning_rate", "0.5"}}},
      {"adam",
       {{"learning_rate", "CosineDecay"},
        {"learning_rate.initial_learning_rate", "0.05"},
        {"learning_rate.decay_steps", "2000"}}},
  };
  for (const NamedFactory& c : cases) {
    for (DType dt : kDtypes) {
      SCOPED_TRACE(c.name + " " + fmt::format("{}", c.config) + " " + dtype_name(dt));
      auto w = make_param("w", {2.0, -3.0, 0.5, 1.0}, dt);
      Tensor t = Tensor::from_vector(target).to(dt).detach();
      Tensor curvature = Tensor::of({1.0, 4.0, 2.0, 0.5}, dt);
      auto opt = make_optimizer(c.name, c.config);
      double loss_value = 0;
      for (int s = 0; s < 2000; ++s) {
        Optimizer::zero_grad({w});
        Tensor loss = sum(mul(square(sub(w->value, t)), curvature));
        loss.backward();
        opt->step({w});
        loss_value = loss.item();
      }
      EXPECT_LT(loss_value, 1e-6);
      std::vector<double> got = w->value.to_vector<double>();
      for (size_t i = 0; i < target.size(); ++i) EXPECT_NEAR(got[i], target[i], 1e-3) << i;
    }
  }
}

}  // namespace
}  // namespace loom
