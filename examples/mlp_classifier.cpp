// A bag-of-embeddings classifier trained with Model::fit:
//   Embedding(mask_zero) -> GlobalAveragePooling1D -> Dense(1, sigmoid)
// on generated token sequences whose label depends on which tokens appear.
//
// Data: sequences of 8..24 token ids, right-padded with 0 to length 24.
// Ids 1..10 are "positive" words, 11..20 "negative" words, 21..99 neutral.
// Each sequence holds a few sentiment words among neutral ones, and its
// label is 1 when it holds more positive than negative words (never tied),
// with 2% of the labels flipped at random: the best possible accuracy is
// about 0.98. The masked average of the embeddings is linear in the word
// counts divided by the length, so this model can learn the rule.
//
//   ./build/mlp_classifier            progress bar, then test_accuracy=0.9xxx
//   exit status 1 when the test accuracy is below the target (0.95)
#include <cstdio>
#include <random>

#include <loom/loom.h>

using namespace loom;

namespace {

constexpr int64_t kVocab = 100, kMaxLen = 24;
constexpr double kTarget = 0.95;

struct Data {
  Tensor tokens;  // (N, kMaxLen) i32, 0 = padding
  Tensor labels;  // (N) f32 in {0, 1}
};

Data generate(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  std::vector<int32_t> tokens(static_cast<size_t>(n * kMaxLen), 0);
  std::vector<float> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = uniform(8, kMaxLen);
    const bool positive = uniform(0, 1) == 1;
    // The majority side gets 2..4 words, the other side fewer.
    const int64_t major = uniform(2, 4), minor = uniform(0, major - 1);
    std::vector<int32_t> seq;
    for (int64_t k = 0; k < major; ++k) seq.push_back(static_cast<int32_t>(positive ? uniform(1, 10) : uniform(11, 20)));
    for (int64_t k = 0; k < minor; ++k) seq.push_back(static_cast<int32_t>(positive ? uniform(11, 20) : uniform(1, 10)));
    while (static_cast<int64_t>(seq.size()) < len) seq.push_back(static_cast<int32_t>(uniform(21, kVocab - 1)));
    std::shuffle(seq.begin(), seq.end(), rng);
    std::copy(seq.begin(), seq.end(), tokens.begin() + i * kMaxLen);
    const bool flip = uniform(0, 99) < 2;  // label noise
    labels[static_cast<size_t>(i)] = positive != flip ? 1.0f : 0.0f;
  }
  return {Tensor::from_vector(tokens, {n, kMaxLen}), Tensor::from_vector(labels)};
}

}  // namespace

int main(int argc, char** argv) {
  if (loom::print_version_if_requested(argc, argv, "mlp_classifier")) return 0;
  try {
    manual_seed(1);
    Data train = generate(4000, 1), test = generate(1000, 2);

    auto tokens = Input({kMaxLen}, DType::i32, "tokens");                                // (B, 24)
    auto x = Embedding::make({.input_dim = kVocab, .output_dim = 16, .mask_zero = true})(tokens);  // (B, 24, 16)
    x = GlobalAveragePooling1D::make()(x);                                              // (B, 16)
    auto out = Dense::make({.units = 1, .activation = "sigmoid"})(x);                   // (B, 1)
    Model model({tokens}, {out}, "bag_of_embeddings");
    std::printf("%s\n", model.summary().c_str());

    CompileOptions co;
    co.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01});
    co.loss = "binary_crossentropy";
    co.metrics = {"accuracy"};
    model.compile(co);
    auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{
        .monitor = "val_loss", .patience = 2, .restore_best_weights = true});
    model.fit(train.tokens, train.labels,
              {.batch_size = 32, .epochs = 20, .validation_split = 0.1, .seed = 7, .callbacks = {stop}});

    auto result = model.evaluate(test.tokens, test.labels, 128);
    const double accuracy = result.at("accuracy");
    std::printf("test_loss=%.4f\n", result.at("loss"));
    std::printf("test_accuracy=%.4f\n", accuracy);
    if (accuracy < kTarget) {
      std::fprintf(stderr, "mlp_classifier: test accuracy %.4f is below the target %.2f\n", accuracy, kTarget);
      return 1;
    }
    std::printf("target %.2f reached\n", kTarget);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mlp_classifier: %s\n", e.what());
    return 2;
  }
}
