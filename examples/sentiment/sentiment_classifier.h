// Binary sentiment classification end to end: raw texts in, a trained model
// plus its vectorizer out, saved as one file and used to classify new texts.
// This is the pipeline examples/train_sentiment runs (and
// tests/examples/sentiment/ check), so a program can do the same in a few lines:
//
//   auto train = loom::text::synthetic_reviews({.num_examples = 8000, .seed = 1});
//   auto test = loom::text::synthetic_reviews({.num_examples = 2000, .seed = 2});
//   loom::text::SentimentTrainOptions opt;
//   opt.model.kind = "bilstm";
//   auto run = loom::text::train_sentiment_classifier(train, {}, test, opt);
//   run.classifier.save("sentiment.loom");          // weights + vocabulary + settings
//   auto clf = loom::text::SentimentClassifier::load("sentiment.loom");
//   std::vector<double> p = clf.predict_proba({"not a dull film at all ."});
//
// Models by name (SentimentModelOptions::kind), all ending in
// Dense(1, sigmoid) on the output of the part named:
//   bow           Embedding -> GlobalAveragePooling1D [-> Dropout]   (the bag-of-words baseline)
//   lstm          Embedding -> LSTM(units)
//   bilstm        Embedding -> Bidirectional(LSTM(units)), concat: 2*units features
//   gru           Embedding -> GRU(units)          (reset_after, Keras 2 default)
//   simplernn     Embedding -> SimpleRNN(units)
//   stacked-lstm  Embedding -> LSTM(units, return_sequences) -> LSTM(units)
// dropout / recurrent_dropout are the recurrent layers' own arguments
// (Keras's LSTM(dropout=, recurrent_dropout=): variational masks on the
// inputs and on h); for bow, dropout is a Dropout layer before the Dense.
// stacked-lstm stacks two LSTM layers (Keras's usual way) rather than one
// RNN over StackedRNNCells: the layers run on the explicit BPTT and save and
// load by name, which a generic RNN over a cell list does not.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loom/layers/saving/json.h"
#include "loom/layers/training/model.h"
#include "loom/layers/text/datasets.h"
#include "loom/layers/text/text_vectorization.h"

namespace loom::text {

// "bow", "lstm", "bilstm", "gru", "simplernn", "stacked-lstm".
const std::vector<std::string>& sentiment_model_kinds();

struct SentimentModelOptions {
  std::string kind = "bilstm";
  int64_t embed_dim = 64;
  int64_t units = 32;
  double dropout = 0.0;
  double recurrent_dropout = 0.0;
  // Embedding(mask_zero): the recurrent layers skip padding (id 0) and the
  // pooling averages over real tokens only.
  bool mask_zero = true;
  // The dtype policy of the embedding and recurrent layers: float32,
  // mixed_bfloat16 or mixed_float16 (layers/precision_policy.h). The
  // output Dense stays float32, as Keras's mixed-precision guide advises.
  std::string precision = "float32";
};

// Throws loom::Error naming the setting for an unknown kind or a value out
// of range (dims < 1, dropout outside [0, 1)).
void validate(const SentimentModelOptions& options);

// Embedding(vocabulary_size, embed_dim) -> ... -> Dense(1, sigmoid), taking
// (B, sequence_length) i32 token ids. Weights come from default_generator()
// (seed it with manual_seed first for a reproducible model).
std::shared_ptr<Model> build_sentiment_model(const SentimentModelOptions& options,
                                             int64_t vocabulary_size, int64_t sequence_length);

// A trained model with the vectorizer that feeds it: what a saved file holds.
class SentimentClassifier {
 public:
  SentimentClassifier() = default;
  SentimentClassifier(std::shared_ptr<Model> model, TextVectorization vectorizer,
                      SentimentModelOptions options);

  // P(positive) per text, computed in batches.
  std::vector<double> predict_proba(const std::vector<std::string>& texts,
                                    int64_t batch_size = 64) const;

  // One checkpoint file (layers/saving/saving.h): architecture, weights and
  // optimizer state, the vectorizer (blob "text_vectorization": options and
  // vocabulary, so maxlen and padding travel with it) and the model settings
  // plus `metadata` under the header's "sentiment" key.
  void save(const std::string& path, const Json& metadata = Json::object()) const;
  // Throws loom::Error naming the file when it is not a sentiment model file
  // (no vectorizer blob) or its parts disagree (vocabulary size vs embedding).
  // A Keras 3 ".keras" file loads too (loom::load_keras): a model whose
  // first layer is a TextVectorization and whose output is one probability.
  static SentimentClassifier load(const std::string& path, Json* metadata = nullptr);
  // Writes the model with its vectorizer in front as a Keras 3 ".keras"
  // archive (loom::save_keras); the vectorizer must pad and truncate "post"
  // and keep HTML breaks, as Keras's TextVectorization does.
  void export_keras(const std::string& path) const;

  Model& model() const { return *model_; }
  const std::shared_ptr<Model>& model_ptr() const { return model_; }
  const TextVectorization& vectorizer() const { return vectorizer_; }
  const SentimentModelOptions& options() const { return options_; }
  bool empty() const { return model_ == nullptr; }

 private:
  std::shared_ptr<Model> model_;
  TextVectorization vectorizer_;
  SentimentModelOptions options_;
};

struct SentimentTrainOptions {
  SentimentModelOptions model;
  // Vectorizer: vocabulary size (counting padding and OOV), exact sequence
  // length, where padding and truncation happen (pre keeps a review's end,
  // where the verdict tends to be; see text_vectorization.h).
  int64_t vocab_size = 20000;
  int64_t maxlen = 200;
  std::string padding = "pre";
  std::string truncating = "pre";
  // HTML line breaks (<br />) become spaces before tokenizing (IMDB's
  // reviews are full of them); Keras's TextVectorization has no such step,
  // so a model exported to Keras is trained with this off.
  bool strip_html_breaks = true;
  // Training.
  int epochs = 5;
  int64_t batch_size = 32;
  std::string optimizer = "adam";  // any make_optimizer name
  double learning_rate = 1e-3;
  std::optional<double> clipnorm;
  uint64_t seed = 1;
  // Where the model trains (Device::cuda(0): a GPU, when built with CUDA).
  Device device = Device::cpu();
  // Validation when no validation set is given: this share of the training
  // set (shuffled with the seed, per label) is held out; 0 = no validation.
  double validation_split = 0.1;
  // With validation data: keep the weights of the epoch with the best
  // val_accuracy (the first one on ties) instead of the last epoch's.
  bool restore_best = true;
  // With validation data: stop after this many epochs without a better
  // val_accuracy; 0 = run every epoch.
  int patience = 0;
  // 0 silent; 1 progress bar (one line per epoch when not a terminal) and
  // the summary, validation and test lines on `log`.
  int verbose = 1;
  std::ostream* log = nullptr;  // null = std::cout
  // Crash-safe backups of the training (layers/training/backup.h): with a
  // path, training resumes from the backup there when one exists and
  // writes one every epoch (and every backup.save_every_steps batches).
  // Backups are kept when training ends: the caller deletes them once the
  // trained model is saved (train_sentiment does).
  BackupOptions backup = [] {
    BackupOptions b;
    b.delete_on_finish = false;
    return b;
  }();
};

// Throws loom::Error naming the setting for a value out of range.
void validate(const SentimentTrainOptions& options);

struct SentimentRunResult {
  SentimentClassifier classifier;
  History history;
  std::vector<double> epoch_seconds;  // wall time of each epoch (validation included)
  int best_epoch = 0;                 // 1-based epoch whose weights were kept
  double train_seconds = 0;           // vectorizing + fit
  int64_t train_examples = 0, validation_examples = 0;
  // Test metrics; NaN when there is no test set.
  double test_loss = 0, test_accuracy = 0;
  double test_seconds = 0;
};

// The whole pipeline: holds out validation data when `validation` is empty
// (validation_split), adapts the vectorizer on the training texts only,
// builds the model (seeded by options.seed), prints its summary, fits with a
// progress bar and validation metrics, restores the best epoch and
// evaluates on `test` when it is not empty. Labels must be 0 or 1.
SentimentRunResult train_sentiment_classifier(const TextDataset& train,
                                              const TextDataset& validation,
                                              const TextDataset& test,
                                              const SentimentTrainOptions& options);

// Accuracy of probabilities against 0/1 labels with threshold 0.5.
double binary_accuracy(const std::vector<double>& probabilities, const std::vector<int32_t>& labels);

}  // namespace loom::text
