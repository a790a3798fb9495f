// The synthetic review corpus: determinism, balance, lengths, the documented
// label rule, and the claim that a bag-of-words model stays well below an
// order-aware one (measured here with plain logistic regression).
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "loom/layers/text/random.h"
#include "test_util.h"

namespace loom::text {
namespace {

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool is_punctuation(const std::string& w) { return w == "," || w == "."; }

// ---- the label rule, restated independently of the generator ------------------------------

const std::set<std::string> kPositive = {
    "good", "great", "excellent", "wonderful", "brilliant", "superb", "enjoyable",
    "charming", "delightful", "gripping", "clever", "beautiful", "fantastic", "memorable",
    "touching", "stunning", "engaging", "funny", "fresh", "powerful",
    "loved", "enjoyed", "liked", "admired", "adored"};
const std::set<std::string> kNegative = {
    "bad", "terrible", "awful", "boring", "dull", "weak", "poor", "tedious", "bland", "clumsy",
    "forgettable", "painful", "mediocre", "lifeless", "predictable", "messy", "shallow",
    "endless", "silly", "annoying",
    "hated", "disliked", "loathed", "despised", "resented"};
const std::set<std::string> kNegators = {"not", "never", "hardly"};
const std::set<std::string> kClauseBoundaries = {",", ".", "but", "yet", "however", "although", "and"};

// The header's rule: the polarity of the last sentiment word, flipped when a
// negator precedes it within its clause. Returns -1 when the text has no
// sentiment word.
int rule_label(const std::vector<std::string>& words) {
  for (size_t i = words.size(); i-- > 0;) {
    const bool pos = kPositive.count(words[i]) > 0;
    if (!pos && !kNegative.count(words[i])) continue;
    bool negated = false;
    for (size_t j = i; j-- > 0 && !kClauseBoundaries.count(words[j]);)
      negated = negated || kNegators.count(words[j]) > 0;
    return (pos != negated) ? 1 : 0;
  }
  return -1;
}

// ---- logistic regression on sparse counts ---------------------------------------------------

using Features = std::vector<std::pair<int, float>>;

struct Examples {
  std::vector<Features> x;
  std::vector<int32_t> y;
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// The exact L2-regularized logistic regression optimum by Newton's method
// (dense Hessian, Cholesky solve): for the few hundred unigram features the
// ceiling claim then does not depend on an optimizer's settings. Written out
// so that the measurement depends on nothing else in Loom.
std::vector<double> fit_logistic_newton(const Examples& train, int dims, double l2 = 1e-4) {
  const size_t D = static_cast<size_t>(dims) + 1;  // last = bias
  std::vector<double> w(D, 0.0);
  for (int iter = 0; iter < 50; ++iter) {
    std::vector<double> H(D * D, 0.0), g(D, 0.0);
    for (size_t k = 0; k + 1 < D; ++k) {
      H[k * D + k] = l2 * static_cast<double>(train.x.size());
      g[k] = l2 * static_cast<double>(train.x.size()) * w[k];
    }
    H[(D - 1) * D + (D - 1)] = 1e-9;
    for (size_t i = 0; i < train.x.size(); ++i) {
      const auto& x = train.x[i];
      double z = w[D - 1];
      for (auto [f, v] : x) z += w[static_cast<size_t>(f)] * v;
      const double p = sigmoid(z), r = p - train.y[i], s = p * (1 - p);
      for (auto [f, v] : x) {
        g[static_cast<size_t>(f)] += r * v;
        for (auto [f2, v2] : x) H[static_cast<size_t>(f) * D + static_cast<size_t>(f2)] += s * v * v2;
        H[static_cast<size_t>(f) * D + D - 1] += s * v;
        H[(D - 1) * D + static_cast<size_t>(f)] += s * v;
      }
      g[D - 1] += r;
      H[(D - 1) * D + D - 1] += s;
    }
    // Cholesky H = L L^T in place (lower triangle), then two triangular solves.
    for (size_t j = 0; j < D; ++j) {
      double d = H[j * D + j];
      for (size_t k = 0; k < j; ++k) d -= H[j * D + k] * H[j * D + k];
      const double ljj = std::sqrt(std::max(d, 1e-12));
      H[j * D + j] = ljj;
      for (size_t i = j + 1; i < D; ++i) {
        double v = H[i * D + j];
        for (size_t k = 0; k < j; ++k) v -= H[i * D + k] * H[j * D + k];
        H[i * D + j] = v / ljj;
      }
    }
    std::vector<double> step(g);
    for (size_t i = 0; i < D; ++i) {
      for (size_t k = 0; k < i; ++k) step[i] -= H[i * D + k] * step[k];
      step[i] /= H[i * D + i];
    }
    for (size_t i = D; i-- > 0;) {
      for (size_t k = i + 1; k < D; ++k) step[i] -= H[k * D + i] * step[k];
      step[i] /= H[i * D + i];
    }
    double largest = 0;
    for (size_t k = 0; k < D; ++k) {
      w[k] -= step[k];
      largest = std::max(largest, std::fabs(step[k]));
    }
    if (largest < 1e-7) break;
  }
  return w;
}

// Adagrad SGD on the log loss, for the many features of a bag of n-grams
// (too many for a dense Newton step).
std::vector<double> fit_logistic_sgd(const Examples& train, int dims, int epochs) {
  std::vector<double> w(static_cast<size_t>(dims) + 1, 0.0), g2(w.size(), 1e-8);
  const double l2 = 1e-6, lr = 0.3;
  std::vector<size_t> order(train.x.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  TextRng rng(99);
  for (int epoch = 0; epoch < epochs; ++epoch) {
    rng.shuffle(order);
    for (size_t i : order) {
      double z = w.back();
      for (auto [f, v] : train.x[i]) z += w[static_cast<size_t>(f)] * v;
      const double r = sigmoid(z) - train.y[i];
      for (auto [f, v] : train.x[i]) {
        const auto k = static_cast<size_t>(f);
        const double gk = r * v + l2 * w[k];
        g2[k] += gk * gk;
        w[k] -= lr * gk / std::sqrt(g2[k]);
      }
      g2.back() += r * r;
      w.back() -= lr * r / std::sqrt(g2.back());
    }
  }
  return w;
}

double accuracy(const std::vector<double>& w, const Examples& data) {
  int64_t correct = 0;
  for (size_t i = 0; i < data.x.size(); ++i) {
    double z = w.back();
    for (auto [f, v] : data.x[i]) z += w[static_cast<size_t>(f)] * v;
    correct += ((z > 0) ? 1 : 0) == data.y[i];
  }
  return static_cast<double>(correct) / static_cast<double>(data.x.size());
}

// Bag of words (unigram counts) or bag of n-grams up to `order`, over the
// tokens the default TextVectorization produces (what the models see).
struct Featurizer {
  int order = 1;
  std::map<std::string, int> index;

  Examples build(const TextDataset& data, const TextVectorization& vec, bool grow) {
    Examples out;
    for (size_t i = 0; i < data.size(); ++i) {
      std::vector<std::string> tokens = vec.tokenize(data.texts[i]);
      std::map<int, float> counts;
      for (size_t t = 0; t < tokens.size(); ++t) {
        std::string gram;
        for (int n = 0; n < order && t + static_cast<size_t>(n) < tokens.size(); ++n) {
          gram += (n ? " " : "") + tokens[t + static_cast<size_t>(n)];
          auto it = index.find(gram);
          if (it == index.end()) {
            if (!grow) continue;
            it = index.emplace(gram, static_cast<int>(index.size())).first;
          }
          counts[it->second] += 1.0f;
        }
      }
      out.x.emplace_back(counts.begin(), counts.end());
      out.y.push_back(data.labels[i]);
    }
    return out;
  }
};

struct BagResult {
  double train = 0, test = 0;
};

BagResult bag_accuracy(const TextDataset& train, const TextDataset& test, int order) {
  TextVectorization vec;
  Featurizer fz{order, {}};
  Examples tr = fz.build(train, vec, true);
  Examples te = fz.build(test, vec, false);
  const int dims = static_cast<int>(fz.index.size());
  auto w = order == 1 ? fit_logistic_newton(tr, dims) : fit_logistic_sgd(tr, dims, 20);
  return {accuracy(w, tr), accuracy(w, te)};
}

// ---- tests -------------------------------------------------------------------------------------

TEST(SyntheticReviews, DeterministicPerSeedAndPrefixStable) {
  TextDataset a = synthetic_reviews({.num_examples = 300, .seed = 5});
  TextDataset b = synthetic_reviews({.num_examples = 300, .seed = 5});
  TextDataset c = synthetic_reviews({.num_examples = 300, .seed = 6});
  EXPECT_EQ(a.texts, b.texts);
  EXPECT_EQ(a.labels, b.labels);
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a.texts[i] == c.texts[i];
  EXPECT_LT(same, 10) << "another seed should give other reviews";
  // Example i does not depend on how many are generated.
  TextDataset prefix = synthetic_reviews({.num_examples = 41, .seed = 5});
  for (size_t i = 0; i < prefix.size(); ++i) {
    EXPECT_EQ(prefix.texts[i], a.texts[i]) << i;
    EXPECT_EQ(prefix.labels[i], a.labels[i]) << i;
  }
  // Pinned: the same seed gives the same corpus on every platform and build
  // (own generator, no std distributions). A deliberate change of the
  // language updates these values.
  TextDataset pinned = synthetic_reviews({.num_examples = 20, .seed = 0});
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over texts and labels
  for (size_t i = 0; i < pinned.size(); ++i) {
    for (unsigned char ch : pinned.texts[i] + "\t" + std::to_string(pinned.labels[i]) + "\n")
      hash = (hash ^ ch) * 1099511628211ULL;
  }
  EXPECT_EQ(pinned.texts[9], "it was never poor , yet the plot was bad .");
  EXPECT_EQ(pinned.labels[9], 0);
  EXPECT_EQ(hash, 0x4d10c225c70ac74bULL) << std::hex << hash;
}

TEST(SyntheticReviews, BalancedLabelsAndLengthRange) {
  TextDataset d = synthetic_reviews({.num_examples = 4000, .seed = 1});
  auto counts = d.label_counts();
  EXPECT_EQ(counts[0], 2000);
  EXPECT_EQ(counts[1], 2000);
  // Not simply alternating: across pairs the label repeats about half the time.
  int same_as_previous = 0;
  for (size_t i = 1; i < d.size(); ++i) same_as_previous += d.labels[i] == d.labels[i - 1];
  EXPECT_GT(same_as_previous, 800);
  // Every prefix of even length is exactly balanced; odd prefixes are off by one.
  int64_t ones = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    ones += d.labels[i];
    if (i % 2 == 1) ASSERT_EQ(2 * ones, static_cast<int64_t>(i + 1)) << "prefix " << i + 1;
  }

  int64_t shortest = 1 << 30, longest = 0, under_20 = 0, over_150 = 0;
  for (const auto& t : d.texts) {
    auto words = split_words(t);
    int64_t n_words = 0;
    for (const auto& w : words) n_words += !is_punctuation(w);
    ASSERT_GE(n_words, 5) << t;
    ASSERT_LE(static_cast<int64_t>(words.size()), 200) << t;
    shortest = std::min<int64_t>(shortest, n_words);
    longest = std::max<int64_t>(longest, static_cast<int64_t>(words.size()));
    under_20 += words.size() < 20;
    over_150 += words.size() > 150;
  }
  // The whole range is used: short one-liners and long reviews.
  EXPECT_LE(shortest, 7);
  EXPECT_GE(longest, 190);
  EXPECT_GT(under_20, 200);
  EXPECT_GT(over_150, 100);
  std::printf("lengths: shortest %lld words, longest %lld tokens, %lld under 20, %lld over 150 tokens\n",
              static_cast<long long>(shortest), static_cast<long long>(longest),
              static_cast<long long>(under_20), static_cast<long long>(over_150));

  // Other lengths on request.
  TextDataset s = synthetic_reviews({.num_examples = 200, .seed = 2, .min_length = 10, .max_length = 40});
  for (const auto& t : s.texts) {
    auto words = split_words(t);
    int64_t n_words = 0;
    for (const auto& w : words) n_words += !is_punctuation(w);
    ASSERT_GE(n_words, 10) << t;
    ASSERT_LE(static_cast<int64_t>(words.size()), 40) << t;
  }
  EXPECT_LOOM_ERROR(synthetic_reviews({.min_length = 0}), "min_length");
  EXPECT_LOOM_ERROR(synthetic_reviews({.max_length = 10}), "max_length");
  EXPECT_LOOM_ERROR(synthetic_reviews({.negation_rate = 1.5}), "negation_rate");
}

TEST(SyntheticReviews, LabelFollowsTheDocumentedRuleAndUsesEveryDevice) {
  TextDataset d = synthetic_reviews({.num_examples = 4000, .seed = 3});
  int64_t negated = 0, contrast = 0, intensified = 0, noise = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    auto words = split_words(d.texts[i]);
    ASSERT_EQ(rule_label(words), d.labels[i]) << d.texts[i];
    std::set<std::string> present(words.begin(), words.end());
    negated += present.count("not") || present.count("never") || present.count("hardly");
    contrast += present.count("but") || present.count("however") || present.count("although") ||
                present.count("yet");
    intensified += present.count("very") || present.count("really") || present.count("extremely");
    noise += present.count("minutes") || present.count("follows") || present.count("played");
  }
  // The order-dependent devices appear in a good share of the reviews.
  EXPECT_GT(negated, 1200);
  EXPECT_GT(contrast, 1000);
  EXPECT_GT(intensified, 800);
  EXPECT_GT(noise, 1200);
  std::printf("reviews with negation %lld, contrast %lld, intensifiers %lld, plot noise %lld of %zu\n",
              static_cast<long long>(negated), static_cast<long long>(contrast),
              static_cast<long long>(intensified), static_cast<long long>(noise), d.size());
  // The example sentence is in the language and gets the later clause's label.
  EXPECT_EQ(rule_label(split_words("good acting but a dull , endless movie .")), 0);
  EXPECT_EQ(rule_label(split_words("the plot was not very dull .")), 1);
}

TEST(SyntheticReviews, BagOfWordsStaysWellBelowAnOrderAwareReader) {
  TextDataset train = synthetic_reviews({.num_examples = 8000, .seed = 11});
  TextDataset test = synthetic_reviews({.num_examples = 4000, .seed = 12});
  BagResult bow = bag_accuracy(train, test, 1);
  BagResult bigrams = bag_accuracy(train, test, 2);
  int64_t rule_correct = 0;
  for (size_t i = 0; i < test.size(); ++i) rule_correct += rule_label(split_words(test.texts[i])) == test.labels[i];
  const double rule = static_cast<double>(rule_correct) / static_cast<double>(test.size());
  std::printf("logistic regression test accuracy: bag of words %.4f (train %.4f), "
              "bag of uni+bigrams %.4f (train %.4f); order-aware rule %.4f\n",
              bow.test, bow.train, bigrams.test, bigrams.train, rule);
  // The stated ceiling (synthetic.h): counts alone decide about three reviews
  // in four. Measured 0.7375 test / 0.7500 train when written.
  EXPECT_LT(bow.test, 0.78);
  EXPECT_LT(bow.train, 0.78);  // not a matter of too little data: the best fit itself is capped
  EXPECT_GT(bow.test, 0.70);   // the sentiment words still carry signal
  // Local order (bigrams see "not good") helps a lot; the full order decides every review.
  EXPECT_GT(bigrams.test, bow.test + 0.05);
  EXPECT_EQ(rule, 1.0);
}

}  // namespace
}  // namespace loom::text
