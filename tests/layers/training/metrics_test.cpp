// Streaming metrics against hand-computed values (and the Keras docs' examples).
#include "loom/layers/training/metrics.h"
#include "test_util.h"

namespace loom {
namespace {

Tensor f(std::initializer_list<double> v) { return Tensor::of(v); }

TEST(Metrics, MeanWeightsByCount) {
  Mean m("loss");
  m.add(0.5, 32);
  m.add(1.0, 8);
  EXPECT_DOUBLE_EQ(m.result(), (0.5 * 32 + 1.0 * 8) / 40);
  m.update(f({2.0, 4.0}), Tensor(), f({1.0, 3.0}));
  EXPECT_DOUBLE_EQ(m.result(), (16.0 + 8.0 + 2.0 + 12.0) / 44);
  m.reset();
  EXPECT_EQ(m.result(), 0.0);
}

TEST(Metrics, BinaryAccuracyThresholdIsStrict) {
  BinaryAccuracy m;
  // Predicted positive only above 0.5: [1, 0, 0, 0] vs [1, 0, 1, 0].
  m.update(f({1, 0, 1, 0}), Tensor::of2d({{0.6}, {0.4}, {0.3}, {0.5}}));
  EXPECT_DOUBLE_EQ(m.result(), 0.75);
  // Streams: one more batch, 1 of 2 right -> 4 of 6.
  m.update(f({1, 1}), f({0.9, 0.1}));
  EXPECT_DOUBLE_EQ(m.result(), 4.0 / 6.0);
  m.reset();
  // Weighted: hits on weights 1, 2 and 4 of 10.
  m.update(f({1, 0, 1, 0}), f({0.6, 0.4, 0.3, 0.5}), f({1, 2, 3, 4}));
  EXPECT_DOUBLE_EQ(m.result(), 0.7);
  EXPECT_LOOM_ERROR(m.update(f({1, 0}), f({0.6, 0.4, 0.3})),
                    "binary_accuracy: y_true of shape (2,) does not match y_pred of shape (3,)");
  EXPECT_LOOM_ERROR(m.update(f({1, 0}), f({0.6, 0.4}), f({1, 2, 3})),
                    "sample_weight of shape (3,) does not match 2 samples");
}

TEST(Metrics, SparseCategoricalAccuracy) {
  SparseCategoricalAccuracy m;
  Tensor probs = Tensor::of2d({{0.1, 0.7, 0.2}, {0.5, 0.3, 0.2}, {0.2, 0.2, 0.6}});
  m.update(Tensor::of({1, 2, 2}, DType::i32), probs);  // argmax 1, 0, 2
  EXPECT_DOUBLE_EQ(m.result(), 2.0 / 3.0);
  // Ties go to the first maximum (argmax 0 here), labels as (N, 1) i64.
  m.update(Tensor::of2d({{0}}, DType::i64), Tensor::of2d({{0.5, 0.5, 0.0}}));
  EXPECT_DOUBLE_EQ(m.result(), 3.0 / 4.0);
  EXPECT_LOOM_ERROR(m.update(Tensor::of({1, 2}, DType::i32), probs), "needs one label per row");
}

TEST(Metrics, CategoricalAccuracy) {
  CategoricalAccuracy m;
  m.update(Tensor::of2d({{0, 1, 0}, {1, 0, 0}}), Tensor::of2d({{0.1, 0.8, 0.1}, {0.2, 0.7, 0.1}}));
  EXPECT_DOUBLE_EQ(m.result(), 0.5);
}

TEST(Metrics, AccuracyResolvesLikeKeras) {
  Accuracy by_loss("accuracy", "binary_crossentropy");
  EXPECT_EQ(by_loss.resolved(), "binary_accuracy");
  Accuracy sparse_loss("acc", "sparse_categorical_crossentropy_from_logits");
  EXPECT_EQ(sparse_loss.resolved(), "sparse_categorical_accuracy");
  EXPECT_EQ(sparse_loss.name(), "acc");

  Accuracy a1;  // (N, 1) predictions: binary
  a1.update(f({1, 0}), Tensor::of2d({{0.7}, {0.6}}));
  EXPECT_EQ(a1.resolved(), "binary_accuracy");
  EXPECT_DOUBLE_EQ(a1.result(), 0.5);
  Accuracy a2;  // (N) labels, (N, C) scores: sparse categorical
  a2.update(Tensor::of({2, 0}, DType::i32), Tensor::of2d({{0.1, 0.2, 0.7}, {0.1, 0.8, 0.1}}));
  EXPECT_EQ(a2.resolved(), "sparse_categorical_accuracy");
  EXPECT_DOUBLE_EQ(a2.result(), 0.5);
  Accuracy a3;  // one-hot labels: categorical
  a3.update(Tensor::of2d({{0, 0, 1}}), Tensor::of2d({{0.1, 0.2, 0.7}}));
  EXPECT_EQ(a3.resolved(), "categorical_accuracy");
  EXPECT_DOUBLE_EQ(a3.result(), 1.0);
  Accuracy mse("accuracy", "mse");
  EXPECT_EQ(mse.resolved(), "");
}

TEST(Metrics, PrecisionAndRecallKerasDocExamples) {
  Precision p;
  Recall r;
  p.update(f({0, 1, 1, 1}), f({1, 0, 1, 1}));
  r.update(f({0, 1, 1, 1}), f({1, 0, 1, 1}));
  EXPECT_NEAR(p.result(), 2.0 / 3.0, 1e-15);  // tp 2, fp 1
  EXPECT_NEAR(r.result(), 2.0 / 3.0, 1e-15);  // tp 2, fn 1
  p.reset();
  r.reset();
  p.update(f({0, 1, 1, 1}), f({1, 0, 1, 1}), f({0, 0, 1, 0}));
  r.update(f({0, 1, 1, 1}), f({1, 0, 1, 1}), f({0, 0, 1, 0}));
  EXPECT_DOUBLE_EQ(p.result(), 1.0);
  EXPECT_DOUBLE_EQ(r.result(), 1.0);
  p.reset();
  EXPECT_EQ(p.result(), 0.0);  // nothing predicted positive: 0, not NaN
  // 0.5 is not above the threshold.
  p.update(f({1, 0, 1}), f({0.5, 0.51, 0.9}));
  EXPECT_DOUBLE_EQ(p.result(), 0.5);
  EXPECT_LOOM_ERROR(p.update(f({1}), f({1.5})), "predictions must be probabilities in [0, 1], got 1.5");
}

TEST(Metrics, AucKerasDocExample) {
  // Keras docs: thresholds [0 - 1e-7, 0.5, 1 + 1e-7], tp = [2, 1, 0],
  // fp = [2, 0, 0]; tpr [1, 0.5, 0], fpr [1, 0, 0]; auc = 0.75.
  AUC m("auc", 3);
  ASSERT_EQ(m.thresholds().size(), 3u);
  EXPECT_DOUBLE_EQ(m.thresholds()[0], -1e-7);
  EXPECT_DOUBLE_EQ(m.thresholds()[1], 0.5);
  EXPECT_DOUBLE_EQ(m.thresholds()[2], 1 + 1e-7);
  m.update(f({0, 0, 1, 1}), f({0, 0.5, 0.3, 0.9}));
  EXPECT_DOUBLE_EQ(m.result(), 0.75);
  m.reset();
  m.update(f({0, 0, 1, 1}), f({0, 0.5, 0.3, 0.9}), f({1, 0, 0, 1}));
  EXPECT_DOUBLE_EQ(m.result(), 1.0);
  // Default 200 thresholds: the same scores are in separate bins -> exact 0.75.
  AUC d;
  EXPECT_EQ(d.thresholds().size(), 200u);
  EXPECT_DOUBLE_EQ(d.thresholds()[1], 1.0 / 199);
  d.update(f({0, 0, 1, 1}), f({0, 0.5, 0.3, 0.9}));
  EXPECT_NEAR(d.result(), 0.75, 1e-12);
}

TEST(Metrics, AucEqualsMannWhitneyWhenScoresSitInsideBins) {
  // Scores at bin centres (k + 0.5) / 199: the 200-threshold trapezoid then
  // equals the exact ROC AUC, P(score+ > score-) + P(tie) / 2, over batches.
  uint64_t s = 7;
  auto next = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  std::vector<double> labels, scores;
  for (int i = 0; i < 400; ++i) {
    double y = static_cast<double>(next() % 2);
    int k = static_cast<int>(next() % 120) + (y > 0 ? 60 : 0);  // positives score higher on average
    labels.push_back(y);
    scores.push_back((k + 0.5) / 199.0);
  }
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    for (size_t j = 0; j < labels.size(); ++j)
      if (labels[i] == 1 && labels[j] == 0) {
        pairs += 1;
        wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
  const double exact = wins / pairs;
  AUC m;
  for (size_t b = 0; b < 400; b += 64) {  // streaming over batches of 64
    size_t e = std::min<size_t>(b + 64, 400);
    std::vector<double> yl(labels.begin() + b, labels.begin() + e), ys(scores.begin() + b, scores.begin() + e);
    m.update(Tensor::from_vector(yl), Tensor::from_vector(ys));
  }
  EXPECT_GT(exact, 0.6);
  EXPECT_LT(exact, 0.95);
  EXPECT_NEAR(m.result(), exact, 1e-12);
}

TEST(Metrics, MakeMetricByName) {
  EXPECT_EQ(make_metric("auc")->name(), "auc");
  EXPECT_EQ(make_metric("precision")->name(), "precision");
  EXPECT_EQ(make_metric("acc", "binary_crossentropy")->name(), "acc");
  EXPECT_LOOM_ERROR(make_metric("f1"), "unknown metric 'f1'; valid metrics: accuracy, acc, binary_accuracy");
}

}  // namespace
}  // namespace loom
