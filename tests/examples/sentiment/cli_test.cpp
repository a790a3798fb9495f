// Flags and data loading of train_sentiment / predict_sentiment
// (examples/sentiment/sentiment_cli.h): every flag reaches its setting, and each kind
// of mistake is an error naming the flag.
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

namespace loom::sentiment_cli {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

std::string train_error(const Args& args) {
  try {
    parse_train_args(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string predict_error(const Args& args) {
  try {
    parse_predict_args(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TrainFlags, DefaultsAreTheDocumentedOnes) {
  const TrainArgs a = parse_train_args({});
  EXPECT_EQ(a.data.kind, DataSpec::Kind::synthetic);
  EXPECT_EQ(a.train.model.kind, "bilstm");
  EXPECT_EQ(a.train.vocab_size, 20000);
  EXPECT_EQ(a.train.maxlen, 200);
  EXPECT_TRUE(a.train.model.mask_zero);
  EXPECT_EQ(a.train.padding, "pre");
  EXPECT_DOUBLE_EQ(a.train.validation_split, 0.1);
  EXPECT_FALSE(a.help);
  EXPECT_TRUE(a.save_path.empty());
  EXPECT_NE(train_usage("train_sentiment").find("--recurrent-dropout"), std::string::npos);
}

TEST(TrainFlags, EveryFlagReachesItsSetting) {
  const TrainArgs a = parse_train_args(
      {"--data", "tsv:train.tsv", "--test-data", "tsv:test.tsv", "--val-data=csv:dev.csv",
       "--model", "stacked-lstm", "--vocab", "5000", "--maxlen", "80", "--embed", "16", "--units=24",
       "--dropout", "0.2", "--recurrent-dropout", "0.25", "--epochs", "7", "--batch", "64", "--lr",
       "3e-4", "--optimizer", "rmsprop", "--backend", "reference", "--threads", "2", "--seed", "9",
       "--save", "m.loom", "--plot", "curves.svg", "--mask", "off", "--padding", "post",
       "--truncating", "post", "--validation-split", "0", "--text-column", "review",
       "--label-column", "3", "--train-size", "100", "--test-size", "50", "--restore-best", "off",
       "--patience", "2", "--clipnorm", "1.5", "--precision", "mixed_bfloat16"});
  EXPECT_EQ(a.data.kind, DataSpec::Kind::tsv);
  EXPECT_EQ(a.data.path, "train.tsv");
  ASSERT_TRUE(a.test_data && a.val_data);
  EXPECT_EQ(a.test_data->str(), "tsv:test.tsv");
  EXPECT_EQ(a.val_data->str(), "csv:dev.csv");
  const auto& t = a.train;
  EXPECT_EQ(t.model.kind, "stacked-lstm");
  EXPECT_EQ(t.vocab_size, 5000);
  EXPECT_EQ(t.maxlen, 80);
  EXPECT_EQ(t.model.embed_dim, 16);
  EXPECT_EQ(t.model.units, 24);
  EXPECT_DOUBLE_EQ(t.model.dropout, 0.2);
  EXPECT_DOUBLE_EQ(t.model.recurrent_dropout, 0.25);
  EXPECT_FALSE(t.model.mask_zero);
  EXPECT_EQ(t.model.precision, "mixed_bfloat16");
  EXPECT_EQ(t.epochs, 7);
  EXPECT_EQ(t.batch_size, 64);
  EXPECT_DOUBLE_EQ(t.learning_rate, 3e-4);
  EXPECT_EQ(t.optimizer, "rmsprop");
  EXPECT_EQ(t.seed, 9u);
  EXPECT_EQ(t.padding, "post");
  EXPECT_EQ(t.truncating, "post");
  EXPECT_DOUBLE_EQ(t.validation_split, 0.0);
  EXPECT_FALSE(t.restore_best);
  EXPECT_EQ(t.patience, 2);
  ASSERT_TRUE(t.clipnorm.has_value());
  EXPECT_DOUBLE_EQ(*t.clipnorm, 1.5);
  EXPECT_EQ(a.backend, "reference");
  EXPECT_EQ(a.threads, 2);
  EXPECT_EQ(a.save_path, "m.loom");
  EXPECT_EQ(a.plot_path, "curves.svg");
  EXPECT_EQ(a.columns.text_column, "review");
  EXPECT_EQ(a.columns.label_column, "3");
  EXPECT_EQ(a.train_size, 100);
  EXPECT_EQ(a.test_size, 50);
  EXPECT_TRUE(parse_train_args({"--help"}).help);
  EXPECT_TRUE(parse_train_args({"-h"}).help);
  for (const auto& kind : text::sentiment_model_kinds())
    EXPECT_EQ(parse_train_args({"--model", kind}).train.model.kind, kind);
}

TEST(TrainFlags, MistakesAreErrorsNamingTheFlag) {
  EXPECT_CONTAINS(train_error({"--epoch", "3"}), "unknown flag '--epoch'");
  EXPECT_CONTAINS(train_error({"--epoch", "3"}), "--epochs");  // lists the valid ones
  EXPECT_CONTAINS(train_error({"--epochs"}), "flag --epochs needs a value");
  EXPECT_CONTAINS(train_error({"--epochs", "three"}), "flag --epochs: expected an integer in [1, 100000], got 'three'");
  EXPECT_CONTAINS(train_error({"--epochs", "0"}), "flag --epochs");
  EXPECT_CONTAINS(train_error({"--epochs", "2x"}), "got '2x'");
  EXPECT_CONTAINS(train_error({"--batch", "-4"}), "flag --batch");
  EXPECT_CONTAINS(train_error({"--lr", "0"}), "flag --lr: expected a number > 0");
  EXPECT_CONTAINS(train_error({"--lr", "nan"}), "flag --lr");
  EXPECT_CONTAINS(train_error({"--dropout", "1"}), "flag --dropout: expected a number in [0, 1)");
  EXPECT_CONTAINS(train_error({"--recurrent-dropout", "-0.1"}), "flag --recurrent-dropout");
  EXPECT_CONTAINS(train_error({"--validation-split", "1.5"}), "flag --validation-split");
  EXPECT_CONTAINS(train_error({"--model", "cnn"}), "flag --model: expected one of bow, lstm, bilstm, gru, simplernn, stacked-lstm, got 'cnn'");
  EXPECT_CONTAINS(train_error({"--mask", "yes"}), "flag --mask: expected on or off, got 'yes'");
  EXPECT_CONTAINS(train_error({"--precision", "bf16"}),
                  "flag --precision: expected one of float32, mixed_bfloat16, mixed_float16, got 'bf16'");
  EXPECT_CONTAINS(train_error({"--padding", "left"}), "flag --padding");
  EXPECT_CONTAINS(train_error({"--optimizer", "lion"}), "flag --optimizer");
  EXPECT_CONTAINS(train_error({"--backend", "tpu"}), "flag --backend: expected one of");
  EXPECT_CONTAINS(train_error({"--vocab", "2"}), "flag --vocab");
  EXPECT_CONTAINS(train_error({"--data", "parquet:x"}), "flag --data: expected synthetic, imdb:DIR, tsv:FILE or csv:FILE, got 'parquet:x'");
  EXPECT_CONTAINS(train_error({"--data", "imdb"}), "flag --data: 'imdb' needs a path");
  EXPECT_CONTAINS(train_error({"--data", "tsv:"}), "needs a path");
  EXPECT_CONTAINS(train_error({"--data", "imdb:data/aclImdb.tar.gz"}), "extract it first (tar -xzf data/aclImdb.tar.gz -C /tmp)");
  EXPECT_CONTAINS(train_error({"--test-data", "synthetic"}), "flag --test-data");
  EXPECT_CONTAINS(train_error({"--val-data", "tsv:dev.tsv"}), "flag --val-data");  // with synthetic data
  EXPECT_CONTAINS(train_error({"--data", "imdb:/tmp/aclImdb", "--val-data", "imdb:/tmp/aclImdb"}),
                  "flag --val-data: give tsv:FILE or csv:FILE, got 'imdb:/tmp/aclImdb'");
  EXPECT_CONTAINS(train_error({"--plot", "curves.png"}), "flag --plot");
  EXPECT_CONTAINS(train_error({"--save", ""}), "flag --save: expected a path");
  EXPECT_CONTAINS(train_error({"--epochs", "3", "--epochs", "4"}), "flag --epochs is given more than once");
  EXPECT_CONTAINS(train_error({"extra"}), "unexpected argument 'extra'");
  EXPECT_CONTAINS(train_error({"--help=yes"}), "flag --help takes no value");
}

TEST(PredictFlags, ParsesTextsAndFlags) {
  const PredictArgs a = parse_predict_args(
      {"--model", "m.loom", "great film", "--threshold", "0.7", "--batch=8", "--", "--not a flag"});
  EXPECT_EQ(a.model_path, "m.loom");
  EXPECT_EQ(a.texts, (std::vector<std::string>{"great film", "--not a flag"}));
  EXPECT_DOUBLE_EQ(a.threshold, 0.7);
  EXPECT_EQ(a.batch_size, 8);
  const PredictArgs b = parse_predict_args({"--model=m.loom", "--input", "x.tsv", "--output", "p.tsv",
                                            "--text-column", "sentence", "--label-column", "label"});
  EXPECT_EQ(b.input_path, "x.tsv");
  EXPECT_EQ(b.output_path, "p.tsv");
  EXPECT_EQ(b.columns.text_column, "sentence");
  EXPECT_TRUE(parse_predict_args({"--help"}).help);  // --model not needed for help
  EXPECT_STREQ(label_name(0.8, 0.5), "positive");
  EXPECT_STREQ(label_name(0.5, 0.5), "negative");
}

TEST(PredictFlags, MistakesAreErrorsNamingTheFlag) {
  EXPECT_CONTAINS(predict_error({"great film"}), "flag --model is required");
  EXPECT_CONTAINS(predict_error({"--model", "m", "--input", "x.tsv", "text"}), "not both");
  EXPECT_CONTAINS(predict_error({"--model", "m", "--threshold", "2"}), "flag --threshold");
  EXPECT_CONTAINS(predict_error({"--model", "m", "--epochs", "2"}), "unknown flag '--epochs'");
  EXPECT_CONTAINS(predict_error({"--model"}), "flag --model needs a value");
}

// ---- data loading ---------------------------------------------------------------------------------

class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / fmt::format("loom_sentiment_cli_{}_{}", info->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(DataFiles, SyntheticDataAreOneCorpusCutInTwo) {
  const TrainData d = load_train_data(parse_train_args({"--train-size", "30", "--test-size", "10", "--seed", "4"}));
  ASSERT_EQ(d.train.size(), 30u);
  ASSERT_EQ(d.test.size(), 10u);
  const auto all = text::synthetic_reviews({.num_examples = 40, .seed = 4});
  for (size_t i = 0; i < 30; ++i) EXPECT_EQ(d.train.texts[i], all.texts[i]);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(d.test.texts[i], all.texts[30 + i]);
  EXPECT_TRUE(d.validation.empty());  // held out later, by the pipeline
  // Default sizes.
  const TrainData def = load_train_data(parse_train_args({}));
  EXPECT_EQ(def.train.size(), static_cast<size_t>(kSyntheticTrainDefault));
  EXPECT_EQ(def.test.size(), static_cast<size_t>(kSyntheticTestDefault));
}

TEST_F(DataFiles, TsvWithoutTestDataHoldsOutAFifth) {
  std::string tsv;
  for (int i = 0; i < 50; ++i) tsv += fmt::format("text number {}\t{}\n", i, i % 2);
  const std::string path = write("train.tsv", tsv);
  const TrainData d = load_train_data(parse_train_args({"--data", "tsv:" + path}));
  EXPECT_EQ(d.train.size(), 40u);
  EXPECT_EQ(d.test.size(), 10u);
  EXPECT_EQ(d.test.label_counts().at(0), 5);  // stratified
  std::set<std::string> seen(d.train.texts.begin(), d.train.texts.end());
  for (const auto& t : d.test.texts) EXPECT_EQ(seen.count(t), 0u) << t;  // disjoint
  EXPECT_CONTAINS(d.description, "train 40");
}

TEST_F(DataFiles, CsvWithNamedColumnsAndLabelWords) {
  const std::string train = write("train.csv",
                                  "id,review,sentiment\n"
                                  "1,\"Great, truly great\",positive\n"
                                  "2,awful,negative\n"
                                  "3,\"fine \"\"film\"\"\",1\n");
  const std::string dev = write("dev.csv", "id,review,sentiment\n4,meh,negative\n");
  const std::string test = write("test.csv", "id,review,sentiment\n5,superb,positive\n6,bad,0\n");
  const TrainData d = load_train_data(parse_train_args({"--data", "csv:" + train, "--val-data", "csv:" + dev,
                                                        "--test-data", "csv:" + test, "--text-column",
                                                        "review", "--label-column", "sentiment"}));
  EXPECT_EQ(d.train.texts, (std::vector<std::string>{"Great, truly great", "awful", "fine \"film\""}));
  EXPECT_EQ(d.train.labels, (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(d.validation.texts, (std::vector<std::string>{"meh"}));
  EXPECT_EQ(d.test.labels, (std::vector<int32_t>{1, 0}));
}

TEST_F(DataFiles, DataErrorsNameTheFile) {
  const std::string bad = write("bad.tsv", "fine\t1\nbroken line without label\n");
  try {
    load_train_data(parse_train_args({"--data", "tsv:" + bad}));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), bad + ":2");
  }
  EXPECT_THROW(load_train_data(parse_train_args({"--data", "imdb:" + (dir_ / "nothing").string()})), Error);
  const std::string csv = write("cols.csv", "review,stars\ngood,1\n");
  try {
    load_train_data(parse_train_args({"--data", "csv:" + csv, "--label-column", "sentiment"}));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), "sentiment");
  }
}

TEST_F(DataFiles, ImdbDirectoryWithSubsampling) {
  for (const char* split : {"train", "test"})
    for (const char* cls : {"neg", "pos"}) {
      fs::create_directories(dir_ / "aclImdb" / split / cls);
      for (int i = 0; i < 6; ++i)
        std::ofstream(dir_ / "aclImdb" / split / cls / fmt::format("{}_{}.txt", i, cls[0] == 'p' ? 9 : 2))
            << split << " " << cls << " review " << i << "<br />";
    }
  const TrainData d = load_train_data(
      parse_train_args({"--data", "imdb:" + (dir_ / "aclImdb").string(), "--train-size", "8"}));
  EXPECT_EQ(d.train.size(), 8u);
  EXPECT_EQ(d.test.size(), 12u);
  for (size_t i = 0; i < d.test.size(); ++i)
    EXPECT_EQ(d.test.texts[i].rfind("test ", 0), 0u) << d.test.texts[i];
}

TEST_F(DataFiles, InputTextsWithAndWithoutLabels) {
  const auto plain = read_input_texts(write("texts.txt", "a fine film\nnot good\n"), {});
  EXPECT_EQ(plain.texts, (std::vector<std::string>{"a fine film", "not good"}));
  EXPECT_TRUE(plain.labels.empty());
  const auto tsv = read_input_texts(write("l.tsv", "a fine film\t1\nnot good\t0\n"), {});
  EXPECT_EQ(tsv.labels, (std::vector<int32_t>{1, 0}));
  const auto csv = read_input_texts(write("l.csv", "text,label\n\"good, really\",positive\n"), {});
  EXPECT_EQ(csv.texts, (std::vector<std::string>{"good, really"}));
  EXPECT_EQ(csv.labels, (std::vector<int32_t>{1}));
  EXPECT_THROW(read_input_texts(write("ragged.tsv", "one\ntwo\tthree\n"), {}), Error);
  EXPECT_THROW(read_input_texts(write("empty.tsv", ""), {}), Error);
  EXPECT_THROW(read_input_texts((dir_ / "missing.tsv").string(), {}), Error);
  EXPECT_THROW(read_input_texts(write("l3.tsv", "x\t3\n"), {}), Error);  // not a 0/1 label
}

}  // namespace
}  // namespace loom::sentiment_cli
