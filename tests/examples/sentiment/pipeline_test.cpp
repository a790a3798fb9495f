// The sentiment pipeline that examples/train_sentiment runs: an LSTM beats
// the bag-of-words baseline on the synthetic corpus, a saved model file
// loads back to identical probabilities, the epoch is selected on the
// validation set, and the model builders and their errors.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "examples/sentiment/sentiment_cli.h"
#include "test_util.h"

// gmock is not linked: substring checks by hand, showing the whole text on failure.
#define EXPECT_CONTAINS(text, part)                                           \
  do {                                                                        \
    const std::string _text = (text);                                         \
    EXPECT_NE(_text.find(part), std::string::npos) << "in: " << _text;        \
  } while (0)

namespace loom::text {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (fs::temp_directory_path() /
          fmt::format("loom_sentiment_{}_{}_{}_{}", info->test_suite_name(), info->name(), ::getpid(), name))
      .string();
}

// Runs the example's own steps: flags -> data -> train_sentiment_classifier.
SentimentRunResult train_like_the_example(std::vector<std::string> flags) {
  auto args = sentiment_cli::parse_train_args(flags);
  args.train.verbose = 0;
  auto data = sentiment_cli::load_train_data(args);
  return train_sentiment_classifier(data.train, data.validation, data.test, args.train);
}

// The claim the synthetic corpus is built for (layers/text/synthetic.h):
// word order decides the label, so a recurrent model reads it and a bag of
// words cannot. Same data, sizes, optimizer and epochs for both; only the
// model differs.
TEST(SentimentPipeline, LstmBeatsBagOfWordsOnSyntheticReviews) {
  const std::vector<std::string> common = {"--train-size", "3000", "--test-size", "1000", "--maxlen", "48",
                                           "--embed", "32", "--units", "32", "--epochs", "5",
                                           "--lr", "0.005", "--seed", "1"};
  auto with = [&](const std::string& model) {
    auto f = common;
    f.insert(f.end(), {"--model", model});
    return f;
  };
  const auto lstm = train_like_the_example(with("lstm"));
  const auto bow = train_like_the_example(with("bow"));
  fmt::print("test accuracy: lstm {:.4f}, bag of words {:.4f}\n", lstm.test_accuracy, bow.test_accuracy);
  EXPECT_EQ(lstm.train_examples, 2700);  // 10% held out for validation
  EXPECT_EQ(lstm.validation_examples, 300);
  // Measured: LSTM about 0.95, bag of words about 0.65 (truncated to 48 tokens).
  EXPECT_GE(lstm.test_accuracy, 0.85) << "bag of words: " << bow.test_accuracy;
  EXPECT_GE(lstm.test_accuracy, bow.test_accuracy + 0.15) << "lstm " << lstm.test_accuracy
                                                          << " vs bow " << bow.test_accuracy;
  EXPECT_LE(bow.test_accuracy, 0.80);
  // The classifier's own predictions agree with evaluate()'s accuracy.
  auto args = sentiment_cli::parse_train_args(with("lstm"));
  auto data = sentiment_cli::load_train_data(args);
  const auto p = lstm.classifier.predict_proba(data.test.texts);
  EXPECT_NEAR(binary_accuracy(p, data.test.labels), lstm.test_accuracy, 1e-9);
}

// mixed_bfloat16 and mixed_float16 learn the synthetic reviews as float32
// does, and the policy comes back from the saved file (predictions bit for
// bit); the global policy is left as it was.
TEST(SentimentPipeline, MixedPrecisionLearnsAndRoundTrips) {
  const TextDataset train = synthetic_reviews({.num_examples = 2500, .seed = 5});
  const TextDataset test = synthetic_reviews({.num_examples = 500, .seed = 6});
  std::map<std::string, double> accuracy;
  for (const std::string precision : {"float32", "mixed_bfloat16", "mixed_float16"}) {
    SCOPED_TRACE(precision);
    SentimentTrainOptions o;
    o.model.kind = "bilstm";
    o.model.embed_dim = 32;
    o.model.units = 16;
    o.model.precision = precision;
    o.maxlen = 48;
    o.epochs = 4;
    o.learning_rate = 0.005;
    o.verbose = 0;
    const auto run = train_sentiment_classifier(train, {}, test, o);
    accuracy[precision] = run.test_accuracy;
    EXPECT_EQ(global_policy().name, "float32");
    const std::string path = temp_path("mixed_" + precision + ".loom");
    run.classifier.save(path, Json::object());
    const auto loaded = SentimentClassifier::load(path, nullptr);
    fs::remove(path);
    EXPECT_EQ(loaded.options().precision, precision);
    EXPECT_EQ(loaded.predict_proba(test.texts), run.classifier.predict_proba(test.texts));
  }
  fmt::print("test accuracy: float32 {:.4f}, mixed_bfloat16 {:.4f}, mixed_float16 {:.4f}\n",
             accuracy["float32"], accuracy["mixed_bfloat16"], accuracy["mixed_float16"]);
  EXPECT_GE(accuracy["float32"], 0.85);
  EXPECT_NEAR(accuracy["mixed_bfloat16"], accuracy["float32"], 0.03);
  EXPECT_NEAR(accuracy["mixed_float16"], accuracy["float32"], 0.03);
}

SentimentTrainOptions tiny_options(const std::string& kind) {
  SentimentTrainOptions o;
  o.model.kind = kind;
  o.model.embed_dim = 8;
  o.model.units = 6;
  o.vocab_size = 200;
  o.maxlen = 24;
  o.epochs = 1;
  o.batch_size = 16;
  o.learning_rate = 0.01;
  o.verbose = 0;
  return o;
}

// Save -> load -> predict gives the very same probabilities, for every model
// kind (dropout on, so the saved model must not apply it at inference).
TEST(SentimentPipeline, SaveLoadPredictRoundTripIsExact) {
  const TextDataset train = synthetic_reviews({.num_examples = 160, .seed = 3});
  const TextDataset test = synthetic_reviews({.num_examples = 40, .seed = 4});
  const std::vector<std::string> texts = {"a wonderful , moving film .", "not good at all .",
                                          "the plot was dull but the acting was superb .",
                                          "words never seen before zzz qqq", ""};
  for (const auto& kind : sentiment_model_kinds()) {
    SCOPED_TRACE(kind);
    SentimentTrainOptions o = tiny_options(kind);
    o.model.dropout = 0.2;
    if (kind != "bow") o.model.recurrent_dropout = 0.1;
    o.padding = "post";  // not the default: must come back from the file
    const auto run = train_sentiment_classifier(train, {}, test, o);
    const auto before = run.classifier.predict_proba(texts);
    const auto on_test = run.classifier.predict_proba(test.texts);

    const std::string path = temp_path(kind + ".loom");
    Json meta = Json::object();
    meta.set("note", "round trip");
    run.classifier.save(path, meta);
    Json meta_back;
    const auto loaded = SentimentClassifier::load(path, &meta_back);
    fs::remove(path);

    EXPECT_EQ(loaded.predict_proba(texts), before);  // bit for bit
    EXPECT_EQ(loaded.predict_proba(test.texts), on_test);
    EXPECT_EQ(loaded.vectorizer().vocabulary(), run.classifier.vectorizer().vocabulary());
    EXPECT_EQ(loaded.vectorizer().options().output_sequence_length, 24);
    EXPECT_EQ(loaded.vectorizer().options().padding, "post");
    EXPECT_EQ(loaded.options().kind, kind);
    EXPECT_EQ(loaded.options().units, 6);
    EXPECT_DOUBLE_EQ(loaded.options().dropout, 0.2);
    EXPECT_EQ(meta_back.get_string("note"), "round trip");
    EXPECT_EQ(meta_back.get_int("maxlen"), 24);
    EXPECT_EQ(meta_back.get_string("padding"), "post");
    for (double p : before) EXPECT_TRUE(p >= 0.0 && p <= 1.0) << p;
  }
}

TEST(SentimentPipeline, LoadRejectsFilesThatAreNotSentimentModels) {
  // A plain model checkpoint has no vectorizer.
  auto model = build_sentiment_model(SentimentModelOptions{.kind = "bow", .embed_dim = 4}, 10, 5);
  const std::string plain = temp_path("plain.loom");
  model->save(plain);
  try {
    SentimentClassifier::load(plain);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), plain);
    EXPECT_CONTAINS(std::string(e.what()), "not a sentiment model file");
  }
  fs::remove(plain);
  // A missing file and a truncated one are errors naming the file.
  EXPECT_THROW(SentimentClassifier::load(temp_path("absent.loom")), Error);
  const std::string cut = temp_path("cut.loom");
  {
    auto run = train_sentiment_classifier(synthetic_reviews({.num_examples = 40, .seed = 1}), {}, {},
                                          tiny_options("lstm"));
    run.classifier.save(cut);
    const auto size = fs::file_size(cut);
    fs::resize_file(cut, size / 2);
  }
  EXPECT_THROW(SentimentClassifier::load(cut), Error);
  fs::remove(cut);
}

// With a validation set, the weights kept are those of the epoch with the
// best val_accuracy, and the run reports that epoch.
TEST(SentimentPipeline, SelectsTheBestEpochOnValidationData) {
  const TextDataset all = synthetic_reviews({.num_examples = 900, .seed = 11});
  auto split = split_dataset(all, {.validation_fraction = 0.3, .seed = 2});
  SentimentTrainOptions o = tiny_options("lstm");
  o.epochs = 4;
  o.learning_rate = 0.02;
  const auto run = train_sentiment_classifier(split.train, split.validation, {}, o);
  const auto& val = run.history.history.at("val_accuracy");
  ASSERT_EQ(val.size(), 4u);
  int best = 1;
  for (int e = 2; e <= 4; ++e)
    if (val[e - 1] > val[best - 1]) best = e;
  EXPECT_EQ(run.best_epoch, best);
  const auto p = run.classifier.predict_proba(split.validation.texts, o.batch_size);
  EXPECT_NEAR(binary_accuracy(p, split.validation.labels), val[best - 1], 1e-9);
  EXPECT_TRUE(std::isnan(run.test_accuracy));  // no test set
  EXPECT_EQ(run.epoch_seconds.size(), 4u);
}

TEST(SentimentPipeline, PatienceStopsTraining) {
  const TextDataset all = synthetic_reviews({.num_examples = 200, .seed = 5});
  SentimentTrainOptions o = tiny_options("bow");
  o.epochs = 50;
  o.patience = 1;
  const auto run = train_sentiment_classifier(all, {}, {}, o);
  // 20 validation examples: val_accuracy can rise (by 1/20 at least) at most
  // 20 times in a row, so with patience 1 training must stop well before 50.
  EXPECT_EQ(run.validation_examples, 20);
  EXPECT_LE(run.history.epochs_run, 22);
  EXPECT_GE(run.history.epochs_run, 2);
}

TEST(SentimentPipeline, ModelsHaveTheDocumentedShapes) {
  struct Case {
    std::string kind;
    int64_t params;
  };
  // V=50, E=4, H=3: embedding 200, head (features + 1).
  const int64_t emb = 50 * 4;
  const int64_t lstm = 4 * 3 * (4 + 3) + 4 * 3;  // kernel + recurrent + bias
  const std::vector<Case> cases = {
      {"bow", emb + 4 + 1},
      {"lstm", emb + lstm + 3 + 1},
      {"bilstm", emb + 2 * lstm + 6 + 1},
      {"gru", emb + 3 * 3 * (4 + 3) + 2 * 3 * 3 + 3 + 1},
      {"simplernn", emb + 3 * (4 + 3) + 3 + 3 + 1},
      {"stacked-lstm", emb + lstm + (4 * 3 * (3 + 3) + 4 * 3) + 3 + 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind);
    SentimentModelOptions o{.kind = c.kind, .embed_dim = 4, .units = 3};
    auto m = build_sentiment_model(o, 50, 7);
    EXPECT_EQ(m->count_params(), c.params);
    Tensor ids = Tensor::from_vector(std::vector<int32_t>{0, 0, 3, 4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 49}, {2, 7});
    Tensor y = m->predict(ids);
    test::expect_shape(y, {2, 1});
  }
}

TEST(SentimentPipeline, ErrorsNameTheSetting) {
  auto message = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
    EXPECT_CONTAINS(message([] { build_sentiment_model({.kind = "transformer"}, 10, 5); }), "unknown kind 'transformer'");
  EXPECT_CONTAINS(message([] { build_sentiment_model({.kind = "lstm", .units = 0}, 10, 5); }), "units");
  EXPECT_CONTAINS(message([] { build_sentiment_model({.kind = "lstm", .dropout = 1.0}, 10, 5); }), "dropout");
  EXPECT_CONTAINS(message([] { build_sentiment_model({}, 2, 5); }), "vocabulary_size");
  // Labels other than 0/1 are refused with the example's number.
  TextDataset bad;
  bad.push_back("good", 1);
  bad.push_back("bad", 2);
  EXPECT_CONTAINS(message([&] { train_sentiment_classifier(bad, {}, {}, tiny_options("bow")); }), "training example 2 has label 2");
  SentimentTrainOptions o = tiny_options("bow");
  o.padding = "middle";
  EXPECT_CONTAINS(message([&] { validate(o); }), "padding");
  EXPECT_CONTAINS(message([&] { train_sentiment_classifier({}, {}, {}, tiny_options("bow")); }), "training set is empty");
}

TEST(SentimentPipeline, BinaryAccuracy) {
  EXPECT_DOUBLE_EQ(binary_accuracy({0.9, 0.2, 0.5, 0.51}, {1, 0, 1, 1}), 0.75);  // 0.5 is negative
  EXPECT_THROW(binary_accuracy({0.1}, {}), Error);
}

}  // namespace
}  // namespace loom::text
