// The sentiment pipeline (examples/sentiment/sentiment_classifier.h).
#include "examples/sentiment/sentiment_classifier.h"

#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>

#include "loom/layers/training/callbacks.h"
#include "loom/layers/dense.h"
#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/global_average_pooling1d.h"
#include "loom/layers/keras/keras_io.h"
#include "loom/layers/rnn/bidirectional.h"
#include "loom/layers/rnn/rnn.h"
#include "loom/layers/saving/saving.h"
#include "loom/optim/optimizer.h"

namespace loom::text {

namespace {

constexpr const char* kVectorizerBlob = "text_vectorization";
constexpr const char* kMetadataKey = "sentiment";
constexpr const char* kFormatName = "loom-sentiment";
constexpr int64_t kFormatVersion = 1;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool is_known_kind(const std::string& kind) {
  for (const auto& k : sentiment_model_kinds())
    if (k == kind) return true;
  return false;
}

// (N) f32 labels from 0/1 integers; anything else is an error naming `what`.
Tensor label_tensor(const TextDataset& data, const char* what) {
  std::vector<float> y(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const int32_t l = data.labels[i];
    LOOM_CHECK(l == 0 || l == 1,
               "sentiment: {} example {} has label {}; binary sentiment needs labels 0 "
               "(negative) and 1 (positive) (map label names with TableOptions::label_names)",
               what, i + 1, l);
    y[i] = static_cast<float>(l);
  }
  return Tensor::from_vector(y, {static_cast<int64_t>(y.size())});
}

// Records the wall time of every epoch (validation included: fit evaluates
// it before on_epoch_end).
class EpochTimer : public Callback {
 public:
  std::vector<double> seconds;
  void on_epoch_begin(int, const Logs&) override { start_ = Clock::now(); }
  void on_epoch_end(int, Logs&) override { seconds.push_back(seconds_since(start_)); }
  CallbackState state() const override { return {seconds, {}}; }  // the epochs' seconds
  void set_state(const CallbackState& s) override { seconds = s.numbers; }

 private:
  Clock::time_point start_;
};

// Keeps a copy of the weights of the epoch with the best val_accuracy (the
// first on ties) and puts them back when training ends: the epoch is
// selected on the validation set, never on the test set. (EarlyStopping's
// restore_best_weights acts only when it stops training early.)
class KeepBestEpoch : public Callback {
 public:
  int best_epoch = 0;  // 1-based; 0 = none seen
  double best = -std::numeric_limits<double>::infinity();

  void on_epoch_end(int epoch, Logs& logs) override {
    auto it = logs.find("val_accuracy");
    if (it == logs.end() || !(it->second > best)) return;
    best = it->second;
    best_epoch = epoch + 1;
    weights_.clear();
    for (const Tensor& w : require_model("KeepBestEpoch").get_weights()) weights_.push_back(w.clone());
  }
  void on_train_end(const Logs&) override {
    if (!weights_.empty()) require_model("KeepBestEpoch").set_weights(weights_);
    weights_.clear();
  }
  // {best_epoch, best}; tensors: the best epoch's weights.
  CallbackState state() const override { return {{double(best_epoch), best}, weights_}; }
  void set_state(const CallbackState& s) override {
    LOOM_CHECK(s.numbers.size() == 2, "KeepBestEpoch: a saved state of {} numbers, expected 2",
               s.numbers.size());
    best_epoch = static_cast<int>(s.numbers[0]);
    best = s.numbers[1];
    weights_.clear();
    for (const Tensor& w : s.tensors) weights_.push_back(w.clone());
  }

 private:
  std::vector<Tensor> weights_;
};

std::string model_name(const std::string& kind) {
  std::string name = "sentiment_" + kind;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

Json options_json(const SentimentModelOptions& o) {
  Json j = Json::object();
  j.set("kind", o.kind);
  j.set("embed_dim", o.embed_dim);
  j.set("units", o.units);
  j.set("dropout", o.dropout);
  j.set("recurrent_dropout", o.recurrent_dropout);
  j.set("mask_zero", o.mask_zero);
  j.set("precision", o.precision);
  return j;
}

SentimentModelOptions options_from_json(const Json& j) {
  SentimentModelOptions o;
  o.kind = j.value("kind", o.kind);
  o.embed_dim = j.value("embed_dim", o.embed_dim);
  o.units = j.value("units", o.units);
  o.dropout = j.value("dropout", o.dropout);
  o.recurrent_dropout = j.value("recurrent_dropout", o.recurrent_dropout);
  o.mask_zero = j.value("mask_zero", o.mask_zero);
  o.precision = j.value("precision", o.precision);
  return o;
}

}  // namespace

const std::vector<std::string>& sentiment_model_kinds() {
  static const std::vector<std::string> kinds = {"bow", "lstm", "bilstm", "gru", "simplernn",
                                                 "stacked-lstm"};
  return kinds;
}

void validate(const SentimentModelOptions& o) {
  LOOM_CHECK(is_known_kind(o.kind), "sentiment model: unknown kind '{}'; valid kinds: {}", o.kind,
             fmt::join(sentiment_model_kinds(), ", "));
  LOOM_CHECK(o.embed_dim >= 1, "sentiment model: embed_dim must be >= 1, got {}", o.embed_dim);
  LOOM_CHECK(o.units >= 1, "sentiment model: units must be >= 1, got {}", o.units);
  LOOM_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, "sentiment model: dropout must be in [0, 1), got {}",
             o.dropout);
  LOOM_CHECK(o.recurrent_dropout >= 0.0 && o.recurrent_dropout < 1.0,
             "sentiment model: recurrent_dropout must be in [0, 1), got {}", o.recurrent_dropout);
  DTypePolicy::parse(o.precision);  // names the three policies when unknown
}

std::shared_ptr<Model> build_sentiment_model(const SentimentModelOptions& o, int64_t vocabulary_size,
                                             int64_t sequence_length) {
  validate(o);
  LOOM_CHECK(vocabulary_size >= 3, "sentiment model: vocabulary_size must be >= 3 (padding, OOV and "
             "one token), got {}", vocabulary_size);
  LOOM_CHECK(sequence_length >= 1, "sentiment model: sequence_length must be >= 1, got {}",
             sequence_length);
  // The layers take the global policy when made: set it around their
  // construction (only when mixed, so float32 models leave it untouched).
  struct PolicyWhileBuilding {
    std::string before;
    explicit PolicyWhileBuilding(const std::string& name) : before(global_policy().name) {
      if (name != before) set_global_policy(name);
    }
    ~PolicyWhileBuilding() {
      if (global_policy().name != before) set_global_policy(before);
    }
  } policy(o.precision);
  auto tokens = Input({sequence_length}, DType::i32, "tokens");  // (B, L)
  Embedding::Options emb;
  emb.input_dim = vocabulary_size;
  emb.output_dim = o.embed_dim;
  emb.mask_zero = o.mask_zero;
  SymbolicTensor x = Embedding::make(emb)(tokens);  // (B, L, E)
  RecurrentOptions rnn;
  rnn.units = o.units;
  rnn.dropout = o.dropout;
  rnn.recurrent_dropout = o.recurrent_dropout;
  if (o.kind == "bow") {
    x = GlobalAveragePooling1D::make()(x);  // (B, E)
    if (o.dropout > 0) x = Dropout::make(o.dropout)(x);
  } else if (o.kind == "lstm") {
    x = LSTM::make(rnn)(x);  // (B, H)
  } else if (o.kind == "bilstm") {
    x = Bidirectional::make(LSTM::make(rnn))(x);  // (B, 2H)
  } else if (o.kind == "gru") {
    x = GRU::make(rnn)(x);
  } else if (o.kind == "simplernn") {
    x = SimpleRNN::make(rnn)(x);
  } else {  // stacked-lstm
    RecurrentOptions first = rnn;
    first.return_sequences = true;
    x = LSTM::make(first)(x);  // (B, L, H), mask passed on
    x = LSTM::make(rnn)(x);    // (B, H)
  }
  Dense::Options head;
  head.units = 1;
  head.activation = "sigmoid";
  auto head_layer = Dense::make(head);
  head_layer->set_dtype_policy("float32");
  auto out = head_layer(x);  // (B, 1)
  return std::make_shared<Model>(std::vector<SymbolicTensor>{tokens}, std::vector<SymbolicTensor>{out},
                                 model_name(o.kind));
}

// ---- SentimentClassifier ------------------------------------------------------------------------

SentimentClassifier::SentimentClassifier(std::shared_ptr<Model> model, TextVectorization vectorizer,
                                         SentimentModelOptions options)
    : model_(std::move(model)), vectorizer_(std::move(vectorizer)), options_(std::move(options)) {
  LOOM_CHECK(model_ != nullptr, "SentimentClassifier: null model");
}

std::vector<double> SentimentClassifier::predict_proba(const std::vector<std::string>& texts,
                                                       int64_t batch_size) const {
  LOOM_CHECK(model_ != nullptr, "SentimentClassifier::predict_proba: no model (default-constructed)");
  if (texts.empty()) return {};
  Tensor ids = vectorizer_.encode_batch(texts);  // (N, L) i32
  Tensor probs = model_->predict(ids, batch_size).contiguous();  // (N, 1)
  std::vector<double> out;
  out.reserve(texts.size());
  for (float p : probs.to(DType::f32).to_vector<float>()) out.push_back(p);
  return out;
}

void SentimentClassifier::save(const std::string& path, const Json& metadata) const {
  LOOM_CHECK(model_ != nullptr, "SentimentClassifier::save({}): no model", path);
  CheckpointExtras extras;
  extras.blobs[kVectorizerBlob] = vectorizer_.to_string();
  Json info = Json::object();
  info.set("format", kFormatName);
  info.set("version", kFormatVersion);
  info.set("model", options_json(options_));
  // Duplicated from the vectorizer blob so that a JSON reader sees them.
  const auto& vo = vectorizer_.options();
  info.set("vocabulary_size", vectorizer_.vocabulary_size());
  info.set("maxlen", vo.output_sequence_length);
  info.set("padding", vo.padding);
  info.set("truncating", vo.truncating);
  info.set("standardize", vo.standardize);
  if (metadata.is_object())
    for (const auto& [k, v] : metadata.items()) info.set(k, v);
  extras.metadata.set(kMetadataKey, info);
  save_model(*model_, path, extras);
}

namespace {

// The parts must fit together: ids from the vectorizer index the embedding,
// and the model reads sequences of the vectorizer's length.
void check_parts_fit(const Model& model, const TextVectorization& vec, const std::string& path) {
  for (const LayerPtr& layer : model.layers()) {
    if (auto emb = std::dynamic_pointer_cast<Embedding>(layer)) {
      LOOM_CHECK(emb->options().input_dim >= vec.vocabulary_size(),
                 "{}: the vocabulary has {} tokens but the embedding '{}' only {} rows", path,
                 vec.vocabulary_size(), emb->name(), emb->options().input_dim);
      break;
    }
  }
  LOOM_CHECK(model.inputs().size() == 1, "{}: a sentiment model has one input, this one has {}", path,
             model.inputs().size());
  const Shape& in = model.inputs()[0].shape;  // (B, L)
  const int64_t L = vec.options().output_sequence_length;
  LOOM_CHECK(L > 0 && in.size() == 2 && (in[1] == L || in[1] < 0),
             "{}: the vectorizer makes sequences of length {} but the model reads {}", path, L,
             shape_str(in));
}

SentimentClassifier load_keras_classifier(const std::string& path, Json* metadata) {
  KerasModel k = load_keras(path);
  LOOM_CHECK(k.vectorizer.has_value(),
             "{}: not a text model: the Keras model has no TextVectorization at its front (it takes "
             "token ids; load it with loom::load_keras)",
             path);
  check_parts_fit(*k.model, *k.vectorizer, path);
  const std::vector<SymbolicTensor>& outs = k.model->outputs();
  LOOM_CHECK(outs.size() == 1 && outs[0].shape.size() == 2 && outs[0].shape[1] == 1,
             "{}: a sentiment model has one output of one probability per text, this one has {} "
             "output(s), the first of shape {}",
             path, outs.size(), outs.empty() ? std::string("-") : shape_str(outs[0].shape));
  if (metadata) {
    *metadata = Json::object();
    metadata->set("keras_version", Json(k.keras_version));
  }
  return SentimentClassifier(std::move(k.model), std::move(*k.vectorizer), SentimentModelOptions{});
}

}  // namespace

void SentimentClassifier::export_keras(const std::string& path) const {
  LOOM_CHECK(model_ != nullptr, "SentimentClassifier::export_keras({}): no model", path);
  save_keras(*model_, path, &vectorizer_);
}

SentimentClassifier SentimentClassifier::load(const std::string& path, Json* metadata) {
  if (path.size() > 6 && path.compare(path.size() - 6, 6, ".keras") == 0)
    return load_keras_classifier(path, metadata);
  CheckpointExtras extras;
  std::shared_ptr<Model> model = load_model(path, &extras);
  LOOM_CHECK(extras.has_blob(kVectorizerBlob),
             "{}: not a sentiment model file: it has no '{}' blob (write one with "
             "train_sentiment --save or SentimentClassifier::save)",
             path, kVectorizerBlob);
  TextVectorization vec = [&] {
    try {
      return TextVectorization::from_string(extras.blobs.at(kVectorizerBlob));
    } catch (const Error& e) {
      fail("{}: the '{}' blob is malformed: {}", path, kVectorizerBlob, e.what());
    }
  }();
  SentimentModelOptions options;
  Json info = Json::object();
  if (const Json* j = extras.metadata.find(kMetadataKey); j && j->is_object()) {
    info = *j;
    LOOM_CHECK(info.value("format", kFormatName) == std::string(kFormatName) &&
                   info.value("version", kFormatVersion) == kFormatVersion,
               "{}: sentiment metadata of format '{}' version {}; this Loom reads '{}' version {}", path,
               info.value("format", ""), info.value("version", int64_t{0}), kFormatName, kFormatVersion);
    if (const Json* m = info.find("model"); m && m->is_object()) options = options_from_json(*m);
  }
  check_parts_fit(*model, vec, path);
  if (metadata) *metadata = info;
  return SentimentClassifier(std::move(model), std::move(vec), std::move(options));
}

// ---- training ----------------------------------------------------------------------------------------

void validate(const SentimentTrainOptions& o) {
  validate(o.model);
  LOOM_CHECK(o.vocab_size >= 3 || o.vocab_size == 0,
             "sentiment training: vocab_size must be >= 3 (padding, OOV and one token) or 0 (no "
             "limit), got {}", o.vocab_size);
  LOOM_CHECK(o.maxlen >= 1, "sentiment training: maxlen must be >= 1, got {}", o.maxlen);
  LOOM_CHECK(o.padding == "pre" || o.padding == "post",
             "sentiment training: padding must be 'pre' or 'post', got '{}'", o.padding);
  LOOM_CHECK(o.truncating == "pre" || o.truncating == "post",
             "sentiment training: truncating must be 'pre' or 'post', got '{}'", o.truncating);
  LOOM_CHECK(o.epochs >= 1, "sentiment training: epochs must be >= 1, got {}", o.epochs);
  LOOM_CHECK(o.batch_size >= 1, "sentiment training: batch_size must be >= 1, got {}", o.batch_size);
  LOOM_CHECK(std::isfinite(o.learning_rate) && o.learning_rate > 0,
             "sentiment training: learning_rate must be > 0, got {}", o.learning_rate);
  LOOM_CHECK(o.validation_split >= 0 && o.validation_split < 1,
             "sentiment training: validation_split must be in [0, 1), got {}", o.validation_split);
  LOOM_CHECK(o.patience >= 0, "sentiment training: patience must be >= 0, got {}", o.patience);
  LOOM_CHECK(o.backup.save_every_steps >= 0,
             "sentiment training: backup.save_every_steps must be >= 0, got {}",
             o.backup.save_every_steps);
}

double binary_accuracy(const std::vector<double>& p, const std::vector<int32_t>& labels) {
  LOOM_CHECK(p.size() == labels.size(), "binary_accuracy: {} probabilities but {} labels", p.size(),
             labels.size());
  if (p.empty()) return std::nan("");
  size_t right = 0;
  for (size_t i = 0; i < p.size(); ++i) right += ((p[i] > 0.5) == (labels[i] == 1)) ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(p.size());
}

namespace {

struct TrainingSets {
  TextDataset train, validation;
};

// Held-out validation data come from the training set only, so the test
// set never influences training or epoch selection.
TrainingSets hold_out_validation(const TextDataset& train_in, const TextDataset& validation_in,
                                 const SentimentTrainOptions& o) {
  TrainingSets sets{train_in, validation_in};
  if (sets.validation.empty() && o.validation_split > 0) {
    DatasetSplit split = split_dataset(
        train_in, {.validation_fraction = o.validation_split, .seed = o.seed, .stratify = true});
    sets.train = std::move(split.train);
    sets.validation = std::move(split.validation);
  }
  LOOM_CHECK(!sets.train.empty(), "sentiment training: no training examples are left after holding out "
             "validation_split {}", o.validation_split);
  return sets;
}

TextVectorization adapt_vectorizer(const SentimentTrainOptions& o, const TextDataset& train) {
  TextVectorizationOptions vo;
  vo.max_tokens = o.vocab_size;
  vo.output_sequence_length = o.maxlen;
  vo.padding = o.padding;
  vo.truncating = o.truncating;
  vo.strip_html_breaks = o.strip_html_breaks;
  TextVectorization vec(vo);
  vec.adapt(train.texts);  // the vocabulary sees training texts only
  return vec;
}

void log_training_setup(std::ostream& log, const SentimentTrainOptions& o, const TextVectorization& vec,
                        const TrainingSets& sets, const Model& model) {
  log << fmt::format("vocabulary: {} tokens (of at most {}), sequences of {} tokens, padding {}, "
                     "truncating {}\n",
                     vec.vocabulary_size(), o.vocab_size, o.maxlen, o.padding, o.truncating);
  log << fmt::format("training on {} examples, validating on {}\n", sets.train.size(),
                     sets.validation.size());
  log << model.summary() << "\n";
  log.flush();
}

// Binary cross-entropy and accuracy with the configured optimizer.
void compile_for_training(Model& model, const SentimentTrainOptions& o) {
  OptimizerConfig oc{{"learning_rate", fmt::format("{}", o.learning_rate)}};
  if (o.clipnorm) oc["clipnorm"] = fmt::format("{}", *o.clipnorm);
  CompileOptions co;
  co.optimizer_object = std::shared_ptr<Optimizer>(make_optimizer(o.optimizer, oc));
  co.loss = "binary_crossentropy";
  co.metrics = {"accuracy"};
  model.compile(co);
}

// The epoch timer always; with validation data (x_val defined) also the
// best-epoch keeper (restore_best) and early stopping (patience).
FitOptions sentiment_fit_options(const SentimentTrainOptions& o, const Tensor& x_val,
                                 const Tensor& y_val, const std::shared_ptr<EpochTimer>& timer,
                                 const std::shared_ptr<KeepBestEpoch>& keep) {
  FitOptions fo;
  fo.batch_size = o.batch_size;
  fo.epochs = o.epochs;
  fo.seed = o.seed;
  fo.verbose = o.verbose > 0 ? 1 : 0;
  fo.backup = o.backup;
  fo.callbacks = {timer};
  if (x_val.defined()) {
    fo.validation_x = {x_val};
    fo.validation_y = y_val;
    if (o.restore_best) fo.callbacks.push_back(keep);
    if (o.patience > 0) {
      EarlyStoppingOptions es;
      es.monitor = "val_accuracy";
      es.patience = o.patience;
      fo.callbacks.push_back(std::make_shared<EarlyStopping>(es));
    }
  }
  return fo;
}

void log_epochs(std::ostream& log, const SentimentRunResult& result, const KeepBestEpoch& keep) {
  for (size_t e = 0; e < result.epoch_seconds.size(); ++e)
    log << fmt::format("epoch {}: {:.1f} s\n", e + 1, result.epoch_seconds[e]);
  if (keep.best_epoch > 0)
    log << fmt::format("selected epoch {} of {} on validation: val_accuracy={:.4f}\n",
                       keep.best_epoch, result.history.epochs_run, keep.best);
  log.flush();
}

// Fills the test_* fields of `result`.
void evaluate_on_test(Model& model, const TextVectorization& vec, const TextDataset& test,
                      int64_t batch_size, SentimentRunResult& result) {
  const auto t1 = Clock::now();
  const Tensor x_test = vec.encode_batch(test.texts);
  const Tensor y_test = label_tensor(test, "test");
  auto scores = model.evaluate(x_test, y_test, std::max<int64_t>(batch_size, 64));
  result.test_loss = scores.at("loss");
  result.test_accuracy = scores.at("accuracy");
  result.test_seconds = seconds_since(t1);
}

}  // namespace

SentimentRunResult train_sentiment_classifier(const TextDataset& train_in,
                                              const TextDataset& validation_in,
                                              const TextDataset& test,
                                              const SentimentTrainOptions& o) {
  validate(o);
  std::ostream& log = o.log ? *o.log : std::cout;
  LOOM_CHECK(!train_in.empty(), "sentiment training: the training set is empty");
  const auto t0 = Clock::now();
  SentimentRunResult result;

  const TrainingSets sets = hold_out_validation(train_in, validation_in, o);
  result.train_examples = static_cast<int64_t>(sets.train.size());
  result.validation_examples = static_cast<int64_t>(sets.validation.size());

  TextVectorization vec = adapt_vectorizer(o, sets.train);
  const Tensor x_train = vec.encode_batch(sets.train.texts);
  const Tensor y_train = label_tensor(sets.train, "training");
  Tensor x_val, y_val;
  if (!sets.validation.empty()) {
    x_val = vec.encode_batch(sets.validation.texts);
    y_val = label_tensor(sets.validation, "validation");
  }

  manual_seed(o.seed);
  std::shared_ptr<Model> model = build_sentiment_model(o.model, vec.vocabulary_size(), o.maxlen);
  model->to(o.device);
  if (o.verbose > 0) log_training_setup(log, o, vec, sets, *model);
  compile_for_training(*model, o);

  auto timer = std::make_shared<EpochTimer>();
  auto keep = std::make_shared<KeepBestEpoch>();
  result.history = model->fit(x_train, y_train, sentiment_fit_options(o, x_val, y_val, timer, keep));
  result.epoch_seconds = timer->seconds;
  result.best_epoch = (keep->best_epoch > 0) ? keep->best_epoch : result.history.epochs_run;
  result.train_seconds = seconds_since(t0);
  if (o.verbose > 0) log_epochs(log, result, *keep);

  result.test_loss = result.test_accuracy = std::nan("");
  if (!test.empty()) evaluate_on_test(*model, vec, test, o.batch_size, result);
  result.classifier = SentimentClassifier(std::move(model), std::move(vec), o.model);
  return result;
}

}  // namespace loom::text
