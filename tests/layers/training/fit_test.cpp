// Model::compile / fit / evaluate / predict.
#include <cmath>

#include "layers/training/training_util.h"

namespace loom {
namespace {

using test::linear_problem;
using test::small_mlp;

CompileOptions adam(double lr, std::vector<std::string> metrics = {"accuracy"},
                    std::string loss = "binary_crossentropy") {
  CompileOptions c;
  c.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = lr});
  c.loss = std::move(loss);
  c.metrics = std::move(metrics);
  return c;
}

CompileOptions sgd(double lr, std::string loss = "binary_crossentropy") {
  CompileOptions c;
  c.optimizer_object = std::make_shared<SGD>(SGDOptions{.learning_rate = lr});
  c.loss = std::move(loss);
  return c;
}

TEST(Fit, ReachesTargetOnALinearProblem) {
  auto [x, y] = linear_problem(512, 1);
  auto model = small_mlp("reach");
  model->compile(adam(0.02, {"accuracy", "auc"}));
  History h = model->fit(x, y, {.batch_size = 32, .epochs = 30, .seed = 3, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 30);
  ASSERT_EQ(h.history.at("loss").size(), 30u);
  ASSERT_EQ(h.history.at("accuracy").size(), 30u);
  EXPECT_LT(h.history["loss"].back(), h.history["loss"].front() * 0.5);
  auto [xt, yt] = linear_problem(512, 2);
  auto r = model->evaluate(xt, yt);
  EXPECT_GE(r.at("accuracy"), 0.95) << "loss " << r.at("loss");
  EXPECT_GE(r.at("auc"), 0.98);
  EXPECT_EQ(r.size(), 3u);  // loss, accuracy, auc
}

TEST(Fit, SparseCategoricalFromLogitsReachesTarget) {
  // Three classes by the sign pattern of (x0 - x1, x0 + x1).
  Generator g(5);
  Tensor x = Tensor::uniform({600, 2}, -1, 1, g);
  std::vector<float> xv = x.to_vector<float>();
  std::vector<int32_t> yv;
  for (size_t i = 0; i < 600; ++i) {
    float a = xv[2 * i] - xv[2 * i + 1], b = xv[2 * i] + xv[2 * i + 1];
    yv.push_back(a > 0 ? (b > 0 ? 0 : 1) : 2);
  }
  Tensor y = Tensor::from_vector(yv);
  auto in = Input({2});
  auto h = Dense::make({.units = 16, .activation = "tanh", .seed = 1})(in);
  auto out = Dense::make({.units = 3, .seed = 2})(h);
  Model model({in}, {out});
  model.compile(adam(0.02, {"accuracy"}, "sparse_categorical_crossentropy_from_logits"));
  History hist = model.fit(x, y, {.batch_size = 32, .epochs = 25, .verbose = 0});
  EXPECT_GE(hist.history["accuracy"].back(), 0.93);
  // Metrics see probabilities: evaluate's accuracy is the argmax accuracy of predict's logits.
  Tensor logits = model.predict(x);
  int correct = 0;
  std::vector<float> lv = logits.to_vector<float>();
  for (size_t i = 0; i < 600; ++i) {
    int best = static_cast<int>(std::max_element(lv.begin() + 3 * i, lv.begin() + 3 * i + 3) - (lv.begin() + 3 * i));
    correct += best == yv[i];
  }
  EXPECT_DOUBLE_EQ(model.evaluate(x, y).at("accuracy"), correct / 600.0);
}

TEST(Fit, LabelsOfAnyDtypeAndShape) {
  // Binary labels as (N) f32, (N, 1) f64 or (N) i32; sparse labels as i64 or f32 (cast, as Keras).
  auto [x, y] = linear_problem(48, 19);
  auto model = small_mlp("dtypes");
  model->compile(adam(0.01, {"accuracy", "precision", "recall"}));
  auto base = model->evaluate(x, y);
  EXPECT_EQ(model->evaluate(x, y.reshape({48, 1}).to(DType::f64)), base);
  std::vector<int32_t> yi;
  for (float v : y.to_vector<float>()) yi.push_back(static_cast<int32_t>(v));
  EXPECT_EQ(model->evaluate(x, Tensor::from_vector(yi)), base);
  model->fit(x, Tensor::from_vector(yi), {.epochs = 1, .verbose = 0});

  auto in = Input({2});
  auto out = Dense::make({.units = 3, .seed = 4})(in);
  Model cls({in}, {out});
  cls.compile(adam(0.01, {"accuracy"}, "sparse_categorical_crossentropy_from_logits"));
  std::vector<int64_t> labels;
  std::vector<float> flabels;
  for (int i = 0; i < 48; ++i) {
    labels.push_back(i % 3);
    flabels.push_back(static_cast<float>(i % 3));
  }
  auto r = cls.evaluate(x, Tensor::from_vector(labels));
  EXPECT_EQ(cls.evaluate(x, Tensor::from_vector(flabels)), r);
  EXPECT_EQ(cls.evaluate(x, Tensor::from_vector(labels, {48, 1})), r);
  EXPECT_LOOM_ERROR(cls.evaluate(x, Tensor::from_vector(labels, {24, 2})),
                    "evaluate: x of shape (48, 2) has 48 samples but y of shape (24, 2) has 24");
}

TEST(Fit, SameSeedGivesBitIdenticalWeights) {
  auto [x, y] = linear_problem(200, 4);
  auto run = [&](const std::string& name, uint64_t seed) {
    auto m = small_mlp(name, /*dropout=*/0.3);
    m->compile(adam(0.01));
    m->fit(x, y, {.batch_size = 16, .epochs = 3, .seed = seed, .verbose = 0});
    return m;
  };
  auto a = run("det_a", 42), b = run("det_b", 42), c = run("det_c", 43);
  test::expect_same_weights(*a, *b);
  // Another seed shuffles (and drops) differently.
  bool all_same = true;
  auto wa = a->get_weights(), wc = c->get_weights();
  for (size_t i = 0; i < wa.size(); ++i) all_same = all_same && test::bit_equal(wa[i], wc[i]);
  EXPECT_FALSE(all_same);
}

TEST(Fit, MatchesAManualLoopAndZeroesGradientsEachBatch) {
  // shuffle off, SGD: fit must equal zero_grad / forward / backward / step per batch.
  auto [x, y] = linear_problem(40, 6);
  auto a = small_mlp("manual_a"), b = small_mlp("manual_b");
  a->compile(sgd(0.5));
  a->fit(x, y, {.batch_size = 16, .epochs = 2, .shuffle = false, .verbose = 0});
  SGD opt({.learning_rate = 0.5});
  for (int epoch = 0; epoch < 2; ++epoch)
    for (int64_t s = 0; s < 40; s += 16) {
      int64_t e = std::min<int64_t>(40, s + 16);
      Optimizer::zero_grad(b->parameters());
      Tensor p = (*b)(x.slice(0, s, e), true);
      Tensor loss = binary_cross_entropy(p, y.slice(0, s, e).reshape({e - s, 1}));
      loss.backward();
      opt.step(b->parameters());
    }
  test::expect_same_weights(*a, *b);
  EXPECT_EQ(a->optimizer()->iterations(), 6);  // 3 batches (16, 16, 8) per epoch
  for (const auto& p : a->parameters()) EXPECT_FALSE(p->grad().defined()) << p->name;
}

TEST(Fit, LastPartialBatchAndCallbackOrder) {
  auto [x, y] = linear_problem(10, 7);
  auto model = small_mlp("batches");
  model->compile(sgd(0.1));
  std::vector<std::string> events;
  auto cb = std::make_shared<LambdaCallback>();
  cb->train_begin = [&](const Logs&) { events.push_back("train_begin"); };
  cb->batch_end = [&](int64_t b, const Logs& logs) {
    events.push_back(fmt::format("batch{}", b));
    EXPECT_TRUE(logs.count("loss"));
  };
  cb->epoch_end = [&](int e, Logs& logs) {
    events.push_back(fmt::format("epoch{}", e));
    EXPECT_EQ(cb->params().steps, 3);
    EXPECT_EQ(cb->params().samples, 10);
    EXPECT_EQ(cb->model(), model.get());
  };
  cb->train_end = [&](const Logs&) { events.push_back("train_end"); };
  model->fit(x, y, {.batch_size = 4, .epochs = 2, .callbacks = {cb}, .verbose = 0});
  EXPECT_EQ(events, (std::vector<std::string>{"train_begin", "batch0", "batch1", "batch2", "epoch0",
                                              "batch0", "batch1", "batch2", "epoch1", "train_end"}));
  EXPECT_EQ(cb->model(), nullptr);  // detached after fit
}

TEST(Fit, InitialEpochRunsTheRemainingEpochs) {
  auto [x, y] = linear_problem(20, 8);
  auto model = small_mlp("initial");
  model->compile(sgd(0.1));
  std::vector<int> epochs;
  auto cb = std::make_shared<LambdaCallback>();
  cb->epoch_end = [&](int e, Logs&) { epochs.push_back(e); };
  History h = model->fit(x, y, {.epochs = 5, .initial_epoch = 3, .callbacks = {cb}, .verbose = 0});
  EXPECT_EQ(epochs, (std::vector<int>{3, 4}));
  EXPECT_EQ(h.epochs_run, 2);
}

TEST(Fit, ValidationSplitTakesTheLastFraction) {
  auto [x, y] = linear_problem(100, 9);
  auto model = small_mlp("vsplit");
  model->compile(adam(0.01));
  int64_t samples = 0;
  auto cb = std::make_shared<LambdaCallback>();
  cb->train_begin = [&](const Logs&) { samples = cb->params().samples; };
  History h = model->fit(x, y, {.batch_size = 8, .epochs = 2, .validation_split = 0.25,
                                .callbacks = {cb}, .verbose = 0});
  EXPECT_EQ(samples, 75);
  ASSERT_EQ(h.history.at("val_loss").size(), 2u);
  ASSERT_EQ(h.history.at("val_accuracy").size(), 2u);
  // The last epoch's validation used the final weights on samples 75..99.
  auto r = model->evaluate(x.slice(0, 75, 100), y.slice(0, 75, 100), 8);
  EXPECT_DOUBLE_EQ(h.history["val_loss"].back(), r.at("loss"));
  EXPECT_DOUBLE_EQ(h.history["val_accuracy"].back(), r.at("accuracy"));
}

TEST(Fit, ExplicitValidationData) {
  auto [x, y] = linear_problem(64, 10);
  auto [xv, yv] = linear_problem(30, 11);
  auto model = small_mlp("vdata");
  model->compile(adam(0.01));
  History h = model->fit(x, y, {.epochs = 2, .validation_x = {xv}, .validation_y = yv, .verbose = 0});
  EXPECT_DOUBLE_EQ(h.history.at("val_loss").back(), model->evaluate(xv, yv).at("loss"));
  EXPECT_LOOM_ERROR(model->fit(x, y, {.validation_x = {xv}, .validation_y = yv.slice(0, 0, 20), .verbose = 0}),
                    "fit (validation data): x of shape (30, 2) has 30 samples but y of shape (20,) has 20");
}

TEST(Fit, ClassWeightsWeighTheLoss) {
  // lr 0: the logged loss is exactly sum_i w_i l_i / N over one batch.
  auto [x, y] = linear_problem(16, 12);
  auto model = small_mlp("cw");
  model->compile(sgd(0.0));
  History h = model->fit(x, y, {.batch_size = 16, .epochs = 1, .shuffle = false,
                                .class_weight = {{0, 2.0}, {1, 0.5}}, .verbose = 0});
  std::vector<float> p = model->predict(x).to_vector<float>();
  std::vector<float> yv = y.to_vector<float>();
  double expected = 0;
  for (size_t i = 0; i < 16; ++i) {
    double pi = std::clamp<double>(p[i], 1e-7, 1 - 1e-7);
    double l = yv[i] > 0 ? -std::log(pi) : -std::log(1 - pi);
    expected += (yv[i] > 0 ? 0.5 : 2.0) * l;
  }
  expected /= 16;
  EXPECT_NEAR(h.history.at("loss")[0], expected, 1e-6);
  // Unweighted for comparison differs.
  EXPECT_GT(std::abs(model->evaluate(x, y).at("loss") - expected), 1e-3);
  EXPECT_LOOM_ERROR(model->fit(x, y, {.class_weight = {{0, 1.0}}, .verbose = 0}),
                    "fit: class_weight has no entry for class 1");
}

TEST(Fit, RegularizationLossesAreAdded) {
  auto [x, y] = linear_problem(16, 13);
  auto in = Input({2});
  auto dense = Dense::make({.units = 1, .activation = "sigmoid", .kernel_regularizer = regularizers::l2(0.5), .seed = 3});
  auto out = dense(in);
  Model model({in}, {out});
  model.compile(sgd(0.0));
  History h = model.fit(x, y, {.batch_size = 16, .epochs = 1, .verbose = 0});
  Tensor w = dense->kernel()->value;
  double penalty = 0;
  for (float v : w.to_vector<float>()) penalty += 0.5 * v * v;
  Tensor p = model.predict(x);
  double data_loss = binary_cross_entropy(p, y.reshape({16, 1})).item();
  EXPECT_NEAR(h.history.at("loss")[0], data_loss + penalty, 1e-6);
  EXPECT_GT(penalty, 1e-3);
  EXPECT_NEAR(model.evaluate(x, y).at("loss"), data_loss + penalty, 1e-6);
}

// Records the training flag and grad mode of every call.
class Probe : public Layer {
 public:
  Probe() : Layer("Probe", "probe") {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const std::vector<Tensor>&,
                           const CallContext& ctx) override {
    calls.push_back({ctx.training, grad_mode_enabled()});
    return {inputs[0]};
  }
  std::vector<Shape> compute_output_shape(const std::vector<Shape>& s) const override { return {s[0]}; }
  std::vector<std::pair<bool, bool>> calls;
};

TEST(Fit, TrainingFlagAndGradMode) {
  auto [x, y] = linear_problem(8, 14);
  auto probe = std::make_shared<Probe>();
  auto in = Input({2});
  auto h = (*probe)(in);
  auto out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 1})(h);
  Model model({in}, {out});
  model.compile(sgd(0.1));
  probe->calls.clear();
  model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
  ASSERT_EQ(probe->calls.size(), 1u);
  EXPECT_EQ(probe->calls[0], std::make_pair(true, true));
  probe->calls.clear();
  model.evaluate(x, y);
  model.predict(x);
  ASSERT_EQ(probe->calls.size(), 2u);
  EXPECT_EQ(probe->calls[0], std::make_pair(false, false));
  EXPECT_EQ(probe->calls[1], std::make_pair(false, false));
}

TEST(Fit, PredictBatchesMatchOneCall) {
  auto [x, y] = linear_problem(10, 15);
  auto model = small_mlp("predict");
  Tensor all = (*model)(x, false);
  Tensor batched = model->predict(x, 3);
  test::expect_shape(batched, {10, 1});
  test::expect_values(batched, all.to_vector<double>(), 1e-6);
  EXPECT_FALSE(batched.requires_grad());
}

TEST(Fit, ClearErrors) {
  auto [x, y] = linear_problem(10, 16);
  auto model = small_mlp("errors");
  EXPECT_LOOM_ERROR(model->fit(x, y), "fit: model 'errors' is not compiled; call compile() first");
  EXPECT_LOOM_ERROR(model->evaluate(x, y), "evaluate: model 'errors' is not compiled");
  EXPECT_LOOM_ERROR(model->compile({.loss = "hinge"}),
                    "compile: unknown loss 'hinge'; valid losses: binary_crossentropy, "
                    "binary_crossentropy_from_logits, sparse_categorical_crossentropy");
  EXPECT_LOOM_ERROR(model->compile({.loss = "binary_crossentropy", .metrics = {"f1"}}),
                    "unknown metric 'f1'; valid metrics: accuracy");
  EXPECT_LOOM_ERROR(model->compile({.optimizer = "adamax", .loss = "binary_crossentropy"}), "adamax");
  EXPECT_LOOM_ERROR(model->compile({}), "compile: model 'errors' needs a loss");
  model->compile(sgd(0.1));
  EXPECT_LOOM_ERROR(model->fit(x, y.slice(0, 0, 7), {.verbose = 0}),
                    "fit: x of shape (10, 2) has 10 samples but y of shape (7,) has 7");
  EXPECT_LOOM_ERROR(model->fit(std::vector<Tensor>{x, x}, y, {.verbose = 0}),
                    "fit: model 'errors' has 1 inputs but x has 2 tensors");
  EXPECT_LOOM_ERROR(model->fit(x, y, {.batch_size = 0}), "batch_size must be positive");
  EXPECT_LOOM_ERROR(model->fit(x, y, {.validation_split = 1.0}), "validation_split must be in [0, 1)");
  EXPECT_LOOM_ERROR(model->fit(x, Tensor::zeros({10, 3}), {.verbose = 0}),
                    "loss binary_crossentropy: targets of shape (");
}

TEST(Fit, NonFiniteLossStopsWithAnErrorAndKeepsTheLastGoodWeights) {
  auto [x, y] = linear_problem(12, 17);
  y.set({4}, std::nan(""));  // a NaN target makes the second batch's loss NaN
  auto model = small_mlp("nan_stop");
  model->compile(sgd(0.1));
  int batches = 0;
  std::vector<Tensor> after_first;
  auto cb = std::make_shared<LambdaCallback>();
  cb->batch_end = [&](int64_t, const Logs&) {
    if (++batches == 1) after_first = model->get_weights();
  };
  // Keras applies the poisoned update and goes on; Loom refuses the batch
  // (TerminateOnNaN turns this into a quiet stop instead).
  EXPECT_LOOM_ERROR(model->fit(x, y, {.batch_size = 4, .epochs = 2, .shuffle = false,
                                      .callbacks = {cb}, .verbose = 0}),
                    "the loss is not finite (nan) at epoch 1, batch 2");
  EXPECT_EQ(batches, 1);
  const std::vector<Tensor> now = model->get_weights();
  for (size_t i = 0; i < now.size(); ++i) EXPECT_TRUE(test::bit_equal(now[i], after_first[i])) << i;
}

TEST(Fit, ProgressOutputWhenVerbose) {
  auto [x, y] = linear_problem(40, 18);
  auto model = small_mlp("verbose");
  model->compile(sgd(0.1));
  testing::internal::CaptureStdout();
  model->fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 2});
  std::string out = testing::internal::GetCapturedStdout();
  // verbose 2: one plain line per epoch.
  EXPECT_NE(out.find("Epoch 1/2 - 40/40 - "), std::string::npos) << out;
  EXPECT_NE(out.find("Epoch 2/2 - 40/40 - "), std::string::npos) << out;
  EXPECT_NE(out.find("/epoch - "), std::string::npos) << out;
  EXPECT_NE(out.find("/step - loss: "), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
}

}  // namespace
}  // namespace loom
