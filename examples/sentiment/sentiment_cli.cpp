// Flag parsing and data loading for the sentiment examples (sentiment_cli.h).
#include "examples/sentiment/sentiment_cli.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <istream>
#include <map>
#include <set>

#include "loom/backends/registry.h"
#include "loom/distributed/distributed.h"
#include "loom/layers/text/synthetic.h"
#include "loom/layers/training/backup.h"

namespace loom::sentiment_cli {

namespace {

// ---- flag values ------------------------------------------------------------------------------

int64_t parse_int(const std::string& flag, const std::string& v, int64_t min, int64_t max) {
  int64_t out = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, out);
  if (v.empty() || ec != std::errc() || ptr != end || out < min || out > max) {
    if (max == INT64_MAX)
      fail("flag {}: expected an integer >= {}, got '{}'", flag, min, v);
    fail("flag {}: expected an integer in [{}, {}], got '{}'", flag, min, max, v);
  }
  return out;
}

// A finite number in [min, max) (max_inclusive: [min, max]).
double parse_number(const std::string& flag, const std::string& v, double min, double max,
                    bool max_inclusive) {
  char* end = nullptr;
  const double out = v.empty() ? NAN : std::strtod(v.c_str(), &end);
  const bool ok = !v.empty() && end == v.c_str() + v.size() && std::isfinite(out) && out >= min &&
                  (max_inclusive ? out <= max : out < max);
  if (!ok) {
    if (std::isinf(max)) fail("flag {}: expected a number >= {}, got '{}'", flag, min, v);
    fail("flag {}: expected a number in [{}, {}{}, got '{}'", flag, min, max, max_inclusive ? "]" : ")", v);
  }
  return out;
}

// Strictly positive.
double parse_positive(const std::string& flag, const std::string& v) {
  // One message for every bad value ("nan", "0", "x"): the range is (0, inf).
  try {
    const double x = parse_number(flag, v, 0.0, INFINITY, false);
    if (x > 0) return x;
  } catch (const Error&) {
  }
  fail("flag {}: expected a number > 0, got '{}'", flag, v);
}

bool parse_on_off(const std::string& flag, const std::string& v) {
  if (v == "on") return true;
  if (v == "off") return false;
  fail("flag {}: expected on or off, got '{}'", flag, v);
}

std::string parse_choice(const std::string& flag, const std::string& v,
                         const std::vector<std::string>& choices) {
  for (const auto& c : choices)
    if (c == v) return v;
  fail("flag {}: expected one of {}, got '{}'", flag, fmt::join(choices, ", "), v);
}

std::string parse_path(const std::string& flag, const std::string& v) {
  LOOM_CHECK(!v.empty(), "flag {}: expected a path, got an empty value", flag);
  return v;
}

// A small table-driven parser: `--name value` or `--name=value`, each flag
// at most once; switches (--help) take no value. Positional arguments go to
// `positional` (an error when it is null); "--" ends the flags.
struct FlagTable {
  std::map<std::string, std::function<void(const std::string& flag, const std::string& value)>> valued;
  std::map<std::string, std::function<void()>> switches;
  std::function<void(const std::string&)> positional;

  void parse(const std::vector<std::string>& args) const {
    std::set<std::string> seen;
    bool flags_done = false;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (flags_done || a.size() < 2 || a.rfind("-", 0) != 0 || a == "-") {
        if (!positional)
          fail("unexpected argument '{}' (flags start with --; run with --help to list them)", a);
        positional(a);
        continue;
      }
      if (a == "--") {
        flags_done = true;
        continue;
      }
      std::string name = a, value;
      bool has_value = false;
      if (auto eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_value = true;
      }
      if (name == "-h") name = "--help";
      if (auto s = switches.find(name); s != switches.end()) {
        LOOM_CHECK(!has_value, "flag {} takes no value, got '{}'", name, a);
        s->second();
        continue;
      }
      auto f = valued.find(name);
      if (f == valued.end()) {
        std::vector<std::string> names;
        for (const auto& [k, v] : valued) names.push_back(k);
        for (const auto& [k, v] : switches) names.push_back(k);
        fail("unknown flag '{}'; valid flags: {}", name, fmt::join(names, " "));
      }
      LOOM_CHECK(seen.insert(name).second, "flag {} is given more than once", name);
      if (!has_value) {
        LOOM_CHECK(i + 1 < args.size(), "flag {} needs a value", name);
        value = args[++i];
      }
      f->second(name, value);
    }
  }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A column flag: all digits = an index, else a header name.
text::Column column_of(const std::string& v, int fallback) {
  if (v.empty()) return text::Column(fallback);
  if (v.find_first_not_of("0123456789") == std::string::npos && v.size() < 9)
    return text::Column(std::stoi(v));
  return text::Column(v);
}

// Subsamples to `n` examples (seeded) when 0 < n < size.
void take(text::TextDataset& data, int64_t n, uint64_t seed) {
  if (n <= 0 || static_cast<size_t>(n) >= data.size()) return;
  text::shuffle_dataset(data, seed);
  std::vector<size_t> idx(static_cast<size_t>(n));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  data = data.subset(idx);
}

std::string count_line(const char* what, const text::TextDataset& d) {
  const auto counts = d.label_counts();
  std::string per_label;
  for (const auto& [label, n] : counts) per_label += fmt::format("{}{}: {}", per_label.empty() ? "" : ", ", label, n);
  return fmt::format("{} {} ({})", what, d.size(), per_label);
}

// One data set of a spec; imdb directories give their `imdb_split`.
text::TextDataset read_spec(const DataSpec& spec, const TableColumns& columns, const char* imdb_split) {
  switch (spec.kind) {
    case DataSpec::Kind::imdb: return text::read_imdb(spec.path, imdb_split);
    case DataSpec::Kind::tsv: return text::read_tsv(spec.path, table_options(columns));
    case DataSpec::Kind::csv: return text::read_csv(spec.path, table_options(columns));
    case DataSpec::Kind::synthetic: break;
  }
  fail("internal: read_spec called for synthetic data");
}

}  // namespace

// ---- data specs ---------------------------------------------------------------------------------

std::string DataSpec::str() const {
  switch (kind) {
    case Kind::synthetic: return "synthetic";
    case Kind::imdb: return "imdb:" + path;
    case Kind::tsv: return "tsv:" + path;
    case Kind::csv: return "csv:" + path;
  }
  return "?";
}

DataSpec parse_data_spec(const std::string& flag, const std::string& value) {
  if (value == "synthetic") return {};
  const auto colon = value.find(':');
  const std::string kind = colon == std::string::npos ? value : value.substr(0, colon);
  const std::string path = colon == std::string::npos ? "" : value.substr(colon + 1);
  DataSpec spec;
  if (kind == "imdb") {
    spec.kind = DataSpec::Kind::imdb;
  } else if (kind == "tsv") {
    spec.kind = DataSpec::Kind::tsv;
  } else if (kind == "csv") {
    spec.kind = DataSpec::Kind::csv;
  } else {
    fail("flag {}: expected synthetic, imdb:DIR, tsv:FILE or csv:FILE, got '{}'", flag, value);
  }
  LOOM_CHECK(!path.empty(), "flag {}: '{}' needs a path after the colon ({}:{})", flag, value, kind,
             kind == "imdb" ? "DIR" : "FILE");
  // The download is an archive; the reader wants the extracted folder.
  LOOM_CHECK(spec.kind != DataSpec::Kind::imdb || !(ends_with(path, ".tar.gz") || ends_with(path, ".tgz")),
             "flag {}: '{}' is the archive; extract it first (tar -xzf {} -C /tmp) and pass "
             "imdb:/tmp/aclImdb", flag, path, path);
  spec.path = path;
  return spec;
}

text::TableOptions table_options(const TableColumns& columns) {
  text::TableOptions o;
  o.text_column = column_of(columns.text_column, 0);
  o.label_column = column_of(columns.label_column, 1);
  // Common spellings in sentiment CSVs (the Kaggle IMDB file says
  // "positive"/"negative"); integer labels still parse as themselves.
  o.label_names = {{"negative", 0}, {"positive", 1}, {"neg", 0}, {"pos", 1}};
  return o;
}

// ---- train_sentiment ----------------------------------------------------------------------------

std::string train_usage(const std::string& program) {
  return fmt::format(R"(Usage: {0} [flags]

Trains a binary sentiment classifier on raw texts and reports its test accuracy.

Data:
  --data SPEC           synthetic (default: the built-in review corpus), imdb:DIR (an
                        extracted aclImdb folder: tar -xzf aclImdb.tar.gz -C /tmp, then
                        imdb:/tmp/aclImdb), tsv:FILE or csv:FILE (text and 0/1 label columns)
  --test-data SPEC      test set (default: imdb's test split, the synthetic test part,
                        or 20% held out of a tsv/csv file)
  --val-data SPEC       validation set, tsv:FILE or csv:FILE (e.g. SST-2 dev.tsv);
                        default: --validation-split
  --validation-split F  share of the training data held out for validation when there is
                        no --val-data (default 0.1; 0 = none)
  --text-column C       tsv/csv text column, header name or 0-based index (default 0)
  --label-column C      tsv/csv label column (default 1); labels 0/1 or negative/positive
  --train-size N        synthetic: examples to generate (default {1}); others: use a seeded
                        sample of N (default: all)
  --test-size N         the same for the test set (synthetic default {2})

Model:
  --model NAME          bilstm (default), lstm, gru, simplernn, stacked-lstm, or bow
                        (Embedding -> GlobalAveragePooling1D -> Dense: the baseline)
  --vocab N             vocabulary size, counting padding and OOV (default 20000)
  --maxlen N            tokens per text after padding/truncation (default 200)
  --padding pre|post    where padding goes (default pre)
  --truncating pre|post which end of a long text is cut (default pre: keep the end)
  --strip-html on|off   turn HTML line breaks (<br />) into spaces (default on; off
                        with --export-keras)
  --embed N             embedding size (default 64)
  --units N             recurrent units (per direction for bilstm; default 32)
  --dropout F           the recurrent layer's input dropout (bow: Dropout before Dense)
  --recurrent-dropout F dropout on the recurrent state
  --mask on|off         Embedding(mask_zero): skip padding (default on)
  --precision NAME      float32 (default), mixed_bfloat16 or mixed_float16: the
                        embedding and recurrent layers' products in bf16/f16 with
                        f32 weights (mixed_float16 trains with loss scaling)

Training:
  --epochs N            (default 5)
  --batch N             batch size (default 32)
  --optimizer NAME      adam (default), rmsprop, sgd, adagrad, adamw
  --lr F                learning rate (default 0.001)
  --clipnorm F          clip each gradient to this norm
  --restore-best on|off keep the epoch with the best val_accuracy (default on)
  --patience N          stop after N epochs without a better val_accuracy (default 0: never)
  --seed N              data split, weights, shuffling and dropout (default 1)
  --backend NAME        CPU backend (default: the fastest built), or cuda (GPU builds)
  --threads N           CPU threads (default: LOOM_NUM_THREADS or all cores)

Output:
  --save PATH           write the model file (weights, vocabulary and settings), for
                        predict_sentiment --model PATH
  --plot PATH.svg       write loss and accuracy per epoch as an SVG chart
  --export-keras PATH.keras
                        also write the classifier as a Keras 3 model whose first layer
                        is a TextVectorization (keras.saving.load_model reads it); trains
                        with Keras's text settings: --padding post --truncating post
                        --strip-html off
  --help                this text

Crash-safe training (a killed run continues where it stopped, to the same
final weights):
  --backup FILE         keep a backup of the training in FILE (and FILE.prev), written
                        every epoch; resumed from when the same command runs again;
                        deleted once the model is saved
  --backup-every N      also write it every N batches
  --resume FILE         continue the run backed up in FILE with its own flags (only
                        --threads and --backend may be added; same thread count for
                        bit-identical results)

Prints the model summary, a progress bar per epoch with loss and accuracy, the
validation metrics, then test_accuracy=0.xxxx and the wall time.
)",
                     program, kSyntheticTrainDefault, kSyntheticTestDefault);
}

namespace {
// --export-keras: the vectorizer must do what Keras's TextVectorization
// does (pad and cut at the end, keep HTML breaks), or the exported model
// would see other ids than Loom's; flags saying otherwise are refused.
void use_keras_text_settings(const std::vector<std::string>& args, text::SentimentTrainOptions& t) {
  auto given = [&](const std::string& flag) {
    for (const std::string& arg : args)
      if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
    return false;
  };
  LOOM_CHECK(!given("--padding") || t.padding == "post",
             "flag --padding {}: with --export-keras the padding is 'post', as Keras's "
             "TextVectorization pads", t.padding);
  LOOM_CHECK(!given("--truncating") || t.truncating == "post",
             "flag --truncating {}: with --export-keras texts are cut at the end ('post'), as "
             "Keras's TextVectorization cuts them", t.truncating);
  LOOM_CHECK(!given("--strip-html") || !t.strip_html_breaks,
             "flag --strip-html on: Keras's TextVectorization keeps HTML line breaks, so a model "
             "exported with --export-keras is trained with --strip-html off");
  t.padding = "post";
  t.truncating = "post";
  t.strip_html_breaks = false;
}
}  // namespace

TrainArgs parse_train_args(const std::vector<std::string>& args) {
  TrainArgs a;
  auto& t = a.train;
  t.model.kind = "bilstm";
  FlagTable f;
  f.switches["--help"] = [&] { a.help = true; };
  f.valued["--data"] = [&](auto& n, auto& v) { a.data = parse_data_spec(n, v); };
  f.valued["--test-data"] = [&](auto& n, auto& v) {
    a.test_data = parse_data_spec(n, v);
    LOOM_CHECK(a.test_data->kind != DataSpec::Kind::synthetic,
               "flag {}: synthetic test data come with --data synthetic; give imdb:DIR, tsv:FILE or "
               "csv:FILE", n);
  };
  f.valued["--val-data"] = [&](auto& n, auto& v) {
    a.val_data = parse_data_spec(n, v);
    // aclImdb has only train and test splits; validating on its test split
    // would select the epoch on the test set.
    LOOM_CHECK(a.val_data->kind == DataSpec::Kind::tsv || a.val_data->kind == DataSpec::Kind::csv,
               "flag {}: give tsv:FILE or csv:FILE, got '{}' (imdb and synthetic data hold out "
               "their validation part from the training set: --validation-split)", n, v);
  };
  f.valued["--validation-split"] = [&](auto& n, auto& v) {
    t.validation_split = parse_number(n, v, 0.0, 1.0, false);
  };
  f.valued["--text-column"] = [&](auto& n, auto& v) {
    LOOM_CHECK(!v.empty(), "flag {}: expected a column name or index, got an empty value", n);
    a.columns.text_column = v;
  };
  f.valued["--label-column"] = [&](auto& n, auto& v) {
    LOOM_CHECK(!v.empty(), "flag {}: expected a column name or index, got an empty value", n);
    a.columns.label_column = v;
  };
  f.valued["--train-size"] = [&](auto& n, auto& v) { a.train_size = parse_int(n, v, 1, INT64_MAX); };
  f.valued["--test-size"] = [&](auto& n, auto& v) { a.test_size = parse_int(n, v, 1, INT64_MAX); };
  f.valued["--model"] = [&](auto& n, auto& v) {
    t.model.kind = parse_choice(n, v, text::sentiment_model_kinds());
  };
  f.valued["--vocab"] = [&](auto& n, auto& v) { t.vocab_size = parse_int(n, v, 3, INT32_MAX); };
  f.valued["--maxlen"] = [&](auto& n, auto& v) { t.maxlen = parse_int(n, v, 1, 100000); };
  f.valued["--padding"] = [&](auto& n, auto& v) { t.padding = parse_choice(n, v, {"pre", "post"}); };
  f.valued["--truncating"] = [&](auto& n, auto& v) { t.truncating = parse_choice(n, v, {"pre", "post"}); };
  f.valued["--embed"] = [&](auto& n, auto& v) { t.model.embed_dim = parse_int(n, v, 1, 100000); };
  f.valued["--units"] = [&](auto& n, auto& v) { t.model.units = parse_int(n, v, 1, 100000); };
  f.valued["--dropout"] = [&](auto& n, auto& v) { t.model.dropout = parse_number(n, v, 0.0, 1.0, false); };
  f.valued["--recurrent-dropout"] = [&](auto& n, auto& v) {
    t.model.recurrent_dropout = parse_number(n, v, 0.0, 1.0, false);
  };
  f.valued["--mask"] = [&](auto& n, auto& v) { t.model.mask_zero = parse_on_off(n, v); };
  f.valued["--precision"] = [&](auto& n, auto& v) {
    t.model.precision = parse_choice(n, v, {"float32", "mixed_bfloat16", "mixed_float16"});
  };
  f.valued["--epochs"] = [&](auto& n, auto& v) { t.epochs = static_cast<int>(parse_int(n, v, 1, 100000)); };
  f.valued["--batch"] = [&](auto& n, auto& v) { t.batch_size = parse_int(n, v, 1, 1 << 20); };
  f.valued["--optimizer"] = [&](auto& n, auto& v) {
    t.optimizer = parse_choice(n, v, {"adam", "adamw", "rmsprop", "sgd", "adagrad"});
  };
  f.valued["--lr"] = [&](auto& n, auto& v) { t.learning_rate = parse_positive(n, v); };
  f.valued["--clipnorm"] = [&](auto& n, auto& v) { t.clipnorm = parse_positive(n, v); };
  f.valued["--restore-best"] = [&](auto& n, auto& v) { t.restore_best = parse_on_off(n, v); };
  f.valued["--patience"] = [&](auto& n, auto& v) { t.patience = static_cast<int>(parse_int(n, v, 0, 100000)); };
  f.valued["--seed"] = [&](auto& n, auto& v) { t.seed = static_cast<uint64_t>(parse_int(n, v, 0, INT64_MAX)); };
  f.valued["--backend"] = [&](auto& n, auto& v) {
    // cuda: the model trains on cuda:0 (CUDA builds; under mpirun, on the
    // rank's GPU: cuda:<local rank>); else a CPU backend.
    std::vector<std::string> names = available_backends();
    if (cuda_built()) names.push_back("cuda");
    a.backend = parse_choice(n, v, names);
    t.device = a.backend == "cuda" ? Device::cuda(distributed::local_rank()) : Device::cpu();
  };
  f.valued["--threads"] = [&](auto& n, auto& v) { a.threads = static_cast<int>(parse_int(n, v, 1, 1024)); };
  f.valued["--save"] = [&](auto& n, auto& v) { a.save_path = parse_path(n, v); };
  f.valued["--strip-html"] = [&](auto& n, auto& v) { t.strip_html_breaks = parse_on_off(n, v); };
  f.valued["--export-keras"] = [&](auto& n, auto& v) {
    a.export_keras_path = parse_path(n, v);
    LOOM_CHECK(ends_with(a.export_keras_path, ".keras"),
               "flag {}: a Keras 3 model file ends in .keras, got '{}'", n, v);
  };
  f.valued["--backup"] = [&](auto& n, auto& v) { t.backup.path = parse_path(n, v); };
  f.valued["--backup-every"] = [&](auto& n, auto& v) {
    t.backup.save_every_steps = parse_int(n, v, 1, INT64_MAX);
  };
  f.valued["--resume"] = [&](auto& n, auto& v) { a.resume_path = parse_path(n, v); };
  f.valued["--plot"] = [&](auto& n, auto& v) {
    a.plot_path = parse_path(n, v);
    LOOM_CHECK(ends_with(a.plot_path, ".svg"), "flag {}: the chart is an SVG file; give a path ending "
               "in .svg, got '{}'", n, v);
  };
  f.parse(args);
  a.command_line = args;
  if (!a.resume_path.empty()) {
    for (const std::string& arg : args) {
      const std::string flag = arg.substr(0, arg.find('='));
      LOOM_CHECK(flag.rfind("--", 0) != 0 || flag == "--resume" || flag == "--threads" ||
                     flag == "--backend",
                 "flag {}: --resume continues a run with the flags stored in its backup; only "
                 "--threads and --backend may be given with it", flag);
    }
    return a;
  }
  if (!a.export_keras_path.empty()) use_keras_text_settings(args, t);
  LOOM_CHECK(t.backup.save_every_steps == 0 || !t.backup.path.empty(),
             "flag --backup-every: give --backup FILE too (where the backups go)");
  LOOM_CHECK(!(a.val_data && a.data.kind == DataSpec::Kind::synthetic),
             "flag --val-data: synthetic data hold out their validation part (--validation-split); "
             "--val-data goes with imdb:, tsv: or csv: data");
  LOOM_CHECK(!(a.test_data && a.data.kind == DataSpec::Kind::synthetic),
             "flag --test-data: synthetic data come with their own test part (--test-size); "
             "--test-data goes with imdb:, tsv: or csv: data");
  text::validate(t);
  return a;
}

void record_command_line(TrainArgs& args) {
  if (args.train.backup.path.empty()) return;
  args.train.backup.extras.metadata.set("train_sentiment_args", Json(args.command_line));
}

TrainArgs resume_train_args(const TrainArgs& given, std::ostream& log) {
  const std::string& path = given.resume_path;
  std::optional<LoadedBackup> b = read_backup(path, log);
  LOOM_CHECK(b.has_value(),
             "flag --resume: there is no backup at '{}' (nor '{}.prev'): start the run with "
             "--backup {} to make one",
             path, path, path);
  const CheckpointExtras extras = b->extras();
  const Json* stored = extras.metadata.find("train_sentiment_args");
  LOOM_CHECK(stored != nullptr,
             "flag --resume: '{}' is a training backup, but not one written by train_sentiment "
             "(no stored flags)",
             path);
  TrainArgs a = parse_train_args(stored->to_string_vector());
  LOOM_CHECK(a.train.backup.path == path,
             "flag --resume: '{}' was written as the backup '{}'; resume from that path",
             path, a.train.backup.path);
  if (!given.backend.empty()) {
    a.backend = given.backend;
    a.train.device = given.train.device;
  }
  if (given.threads > 0) a.threads = given.threads;
  log << fmt::format("resuming from backup '{}' (epoch {}, batch {}): {}\n", b->path,
                     b->state.epoch + 1, b->state.step, fmt::join(a.command_line, " "));
  return a;
}

TrainData load_train_data(const TrainArgs& a) {
  TrainData d;
  const uint64_t seed = a.train.seed;
  if (a.data.kind == DataSpec::Kind::synthetic) {
    // One corpus cut in two: example i does not depend on the corpus size,
    // so the test part is the same whatever the training size.
    const int64_t n_train = a.train_size > 0 ? a.train_size : kSyntheticTrainDefault;
    const int64_t n_test = a.test_size > 0 ? a.test_size : kSyntheticTestDefault;
    text::TextDataset all = text::synthetic_reviews({.num_examples = n_train + n_test, .seed = seed});
    std::vector<size_t> tr(static_cast<size_t>(n_train)), te(static_cast<size_t>(n_test));
    for (size_t i = 0; i < tr.size(); ++i) tr[i] = i;
    for (size_t i = 0; i < te.size(); ++i) te[i] = tr.size() + i;
    d.train = all.subset(tr);
    d.test = all.subset(te);
    d.description = fmt::format("synthetic reviews (seed {})", seed);
  } else {
    d.train = read_spec(a.data, a.columns, "train");
    if (a.test_data) {
      d.test = read_spec(*a.test_data, a.columns, "test");
    } else if (a.data.kind == DataSpec::Kind::imdb) {
      d.test = text::read_imdb(a.data.path, "test");
    } else {
      // A single file: hold out a stratified test part before anything else
      // sees the data (the vocabulary and validation come from the rest).
      text::DatasetSplit s = text::split_dataset(
          d.train, {.validation_fraction = 0.2, .seed = seed ^ 0x7e57, .stratify = true});
      d.train = std::move(s.train);
      d.test = std::move(s.validation);
    }
    if (a.val_data) d.validation = read_spec(*a.val_data, a.columns, "validation");
    take(d.train, a.train_size, seed);
    take(d.test, a.test_size, seed + 1);
    d.description = a.data.str();
  }
  d.description += ": " + count_line("train", d.train);
  if (!d.validation.empty()) d.description += ", " + count_line("validation", d.validation);
  d.description += ", " + count_line("test", d.test);
  return d;
}

// ---- predict_sentiment --------------------------------------------------------------------------

std::string predict_usage(const std::string& program) {
  return fmt::format(R"(Usage: {0} --model PATH [flags] [TEXT ...]

Classifies texts with a model file written by train_sentiment --save, or a
Keras 3 .keras model whose first layer is a TextVectorization.

  --model PATH          the model file (required): .loom, or .keras
  TEXT ...              texts to classify; without texts and --input, one text per line
                        is read from standard input
  --input FILE          a tsv/csv file (tab-separated when it ends in .tsv/.tab): one column
                        of texts, or text and label columns; with labels it prints
                        accuracy=0.xxxx
  --output FILE         write probability, label and text per input text (TSV with a header)
  --text-column C       text column of --input (header name or 0-based index; default 0)
  --label-column C      label column of --input (default 1)
  --threshold F         probability above which a text is positive (default 0.5)
  --batch N             texts per batch (default 64)
  --backend NAME        CPU backend
  --threads N           CPU threads
  --help                this text

Each text prints as: probability<TAB>positive|negative<TAB>text
)",
                     program);
}

PredictArgs parse_predict_args(const std::vector<std::string>& args) {
  PredictArgs a;
  FlagTable f;
  f.switches["--help"] = [&] { a.help = true; };
  f.valued["--model"] = [&](auto& n, auto& v) { a.model_path = parse_path(n, v); };
  f.valued["--input"] = [&](auto& n, auto& v) { a.input_path = parse_path(n, v); };
  f.valued["--output"] = [&](auto& n, auto& v) { a.output_path = parse_path(n, v); };
  f.valued["--text-column"] = [&](auto& n, auto& v) {
    LOOM_CHECK(!v.empty(), "flag {}: expected a column name or index, got an empty value", n);
    a.columns.text_column = v;
  };
  f.valued["--label-column"] = [&](auto& n, auto& v) {
    LOOM_CHECK(!v.empty(), "flag {}: expected a column name or index, got an empty value", n);
    a.columns.label_column = v;
  };
  f.valued["--threshold"] = [&](auto& n, auto& v) { a.threshold = parse_number(n, v, 0.0, 1.0, true); };
  f.valued["--batch"] = [&](auto& n, auto& v) { a.batch_size = parse_int(n, v, 1, 1 << 20); };
  f.valued["--backend"] = [&](auto& n, auto& v) { a.backend = parse_choice(n, v, available_backends()); };
  f.valued["--threads"] = [&](auto& n, auto& v) { a.threads = static_cast<int>(parse_int(n, v, 1, 1024)); };
  f.positional = [&](const std::string& text) { a.texts.push_back(text); };
  f.parse(args);
  if (a.help) return a;
  LOOM_CHECK(!a.model_path.empty(), "flag --model is required: the model file written by "
             "train_sentiment --save");
  LOOM_CHECK(a.input_path.empty() || a.texts.empty(),
             "give texts as arguments or --input FILE, not both (got --input {} and {} text(s))",
             a.input_path, a.texts.size());
  return a;
}

InputTexts read_input_texts(const std::string& path, const TableColumns& columns) {
  const bool tsv = ends_with(path, ".tsv") || ends_with(path, ".tab");
  InputTexts out;
  {
    text::RecordReader reader(path, tsv ? '\t' : ',', !tsv);
    std::vector<std::string> fields;
    if (!reader.next(fields)) fail("{}: the file holds no text", path);
    // Texts only: every record is one field (a named column means a header,
    // hence a table with labels).
    if (fields.size() == 1 && columns.label_column.empty() && columns.text_column.empty()) {
      do {
        LOOM_CHECK(fields.size() == 1, "{}:{}: {} fields, but the first record has 1 (a file of "
                   "texts only has one field per record)", path, reader.line(), fields.size());
        std::string t = fields[0];
        text::apply_utf8_policy(t, text::Utf8Policy::replace);
        out.texts.push_back(std::move(t));
      } while (reader.next(fields));
      return out;
    }
  }
  text::TableOptions o = table_options(columns);
  o.delimiter = tsv ? '\t' : ',';
  text::TextDataset d = text::read_table(path, o);
  out.texts = std::move(d.texts);
  out.labels = std::move(d.labels);
  for (size_t i = 0; i < out.labels.size(); ++i)
    LOOM_CHECK(out.labels[i] == 0 || out.labels[i] == 1,
               "{}: label {} of example {} is not 0/1 (or negative/positive)", path, out.labels[i], i + 1);
  return out;
}

std::vector<std::string> read_text_lines(std::istream& in) {
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines
    texts.push_back(std::move(line));
  }
  LOOM_CHECK(!texts.empty(), "no texts: give them as arguments, one per line on standard input, or "
             "with --input FILE");
  return texts;
}

const char* label_name(double probability, double threshold) {
  return probability > threshold ? "positive" : "negative";
}

void apply_runtime(const std::string& backend, int threads) {
  if (backend == "cuda")
    LOOM_CHECK(cuda_device_count() > distributed::local_rank(),
               "--backend cuda: {} CUDA device(s) visible, and this process needs cuda:{}",
               cuda_device_count(), distributed::local_rank());
  else if (!backend.empty())
    set_cpu_backend(backend);
  if (threads > 0) set_num_threads(threads);
}

}  // namespace loom::sentiment_cli
