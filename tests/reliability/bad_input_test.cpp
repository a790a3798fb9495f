// Every bad input and fault a user can hand Loom, one test per row of
// docs/RELIABILITY_BAD_INPUT.md. Each test asserts the exact kind of failure
// (a loom::Error, never std::bad_alloc, a crash or a silent wrong answer),
// that its message names what was wrong and where (file and line, argument,
// layer and shapes, token id and vocabulary size), and that nothing was lost:
// a previous model file still loads bit-identically, weights and optimizer
// state are unchanged.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "examples/sentiment/sentiment_classifier.h"
#include "examples/sentiment/sentiment_cli.h"
#include "reliability/reliability_util.h"

namespace loom {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using test::loom_error;
using test::read_bytes;
using test::snapshot;
using test::write_bytes;

// ---- shared fixtures ------------------------------------------------------------------------

CompileOptions adam_bce() {
  CompileOptions c;
  c.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01});
  c.loss = "binary_crossentropy";
  c.metrics = {"accuracy"};
  return c;
}

// small_mlp ((B, 2) -> (B, 1) sigmoid), compiled and trained one epoch so that
// the optimizer has slots and a step count that a failure must not touch.
std::shared_ptr<Model> trained_mlp(const std::string& name, uint64_t seed = 11) {
  auto [x, y] = test::linear_problem(32, seed);
  auto model = test::small_mlp(name, 0.0, seed);
  model->compile(adam_bce());
  model->fit(x, y, {.batch_size = 8, .epochs = 1, .seed = seed, .verbose = 0});
  return model;
}

// (B, 4) i32 ids -> Embedding(10, 3) -> mean over tokens -> Dense(1, sigmoid).
std::shared_ptr<Model> trained_embedding_model() {
  auto in = Input({4}, DType::i32, "ids");
  auto h = Embedding::make({.input_dim = 10, .output_dim = 3, .seed = 5}, "emb")(in);
  h = GlobalAveragePooling1D::make({}, "pool")(h);
  auto out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 6}, "out")(h);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{in}, std::vector<SymbolicTensor>{out},
                                       "bag");
  model->compile(adam_bce());
  Tensor ids = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  model->fit(ids, Tensor::of({0, 1}), {.batch_size = 2, .epochs = 1, .verbose = 0});
  return model;
}

// A 3-class softmax model trained once with sparse labels.
std::shared_ptr<Model> trained_softmax() {
  auto in = Input({2}, DType::f32, "x");
  auto out = Dense::make({.units = 3, .activation = "softmax", .seed = 4}, "probs")(in);
  auto model = std::make_shared<Model>(std::vector<SymbolicTensor>{in}, std::vector<SymbolicTensor>{out},
                                       "classes");
  model->compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  model->fit(Tensor::of2d({{0, 1}, {1, 0}, {1, 1}}), Tensor::of({0, 1, 2}), {.epochs = 1, .verbose = 0});
  return model;
}

// A sentiment classifier without training: a vectorizer and a bag-of-words model.
text::SentimentClassifier tiny_classifier() {
  TextVectorization vec({.max_tokens = 50, .output_sequence_length = 6});
  vec.adapt({"a good film", "a bad film", "great acting", "awful plot"});
  text::SentimentModelOptions o;
  o.kind = "bow";
  o.embed_dim = 4;
  manual_seed(3);
  auto model = text::build_sentiment_model(o, vec.vocabulary_size(), 6);
  model->compile({.optimizer = "adam", .loss = "binary_crossentropy"});
  return text::SentimentClassifier(model, vec, o);
}

// The file's header edited by `edit`, written as a valid checkpoint to `out`:
// a model file another tool or Loom version might have written.
template <typename Edit>
void rewrite_header(const std::string& in, const std::string& out, Edit edit) {
  CheckpointFile f = read_checkpoint(in);
  edit(f.header);
  write_checkpoint(out, f);
}

class BadTable : public test::TempDirTest {
 protected:
  std::string file(const std::string& name, const std::string& content) {
    write_bytes(path(name), content);
    return path(name);
  }
};
class BadText : public test::TempDirTest {};
class BadIds : public test::TempDirTest {};
class BadLabels : public test::TempDirTest {};
class NonFinite : public test::TempDirTest {};
class BadShapes : public test::TempDirTest {};
class BadNames : public test::TempDirTest {};
class BadModelFile : public test::TempDirTest {};
class SaveFault : public test::TempDirTest {};
class OutOfMemory : public test::TempDirTest {};
class BadCli : public test::TempDirTest {};

// ---- CSV / TSV files -----------------------------------------------------------------------------

TEST_F(BadTable, CsvUnterminatedQuoteNamesTheLineWhereItOpened) {
  const std::string p = file("q.csv", "text,label\n\"fine\",1\n\"never closed,0\nmore,1\n");
  EXPECT_THAT(loom_error([&] { text::read_csv(p); }),
              AllOf(HasSubstr(p + ":3:"), HasSubstr("unterminated quoted field")));
}

TEST_F(BadTable, CsvRowWithTooManyFieldsNamesLineAndCounts) {
  const std::string p = file("w.csv", "text,label\na,1\nb,0,extra\n");
  EXPECT_THAT(loom_error([&] { text::read_csv(p); }),
              AllOf(HasSubstr(p + ":3:"), HasSubstr("expected 2 fields"), HasSubstr("got 3")));
}

TEST_F(BadTable, TsvRowWithTooFewFieldsNamesLineAndCounts) {
  const std::string p = file("w.tsv", "good film\t1\nno label here\nbad film\t0\n");
  EXPECT_THAT(loom_error([&] { text::read_tsv(p); }),
              AllOf(HasSubstr(p + ":2:"), HasSubstr("expected 2 fields"), HasSubstr("got 1")));
}

TEST_F(BadTable, MissingTextColumnNameListsTheHeader) {
  const std::string p = file("h.csv", "text,label\ngood,1\n");
  text::TableOptions o;
  o.text_column = "review";
  o.label_column = "label";
  EXPECT_THAT(loom_error([&] { text::read_csv(p, o); }),
              AllOf(HasSubstr(p + ":1:"), HasSubstr("no text column named \"review\""),
                    HasSubstr("(columns: \"text\", \"label\")")));
}

TEST_F(BadTable, MissingLabelColumnIndexNamesTheWidth) {
  const std::string p = file("one.csv", "just a text\nanother text\n");
  EXPECT_THAT(loom_error([&] { text::read_csv(p); }),
              AllOf(HasSubstr(p + ":1:"), HasSubstr("label column 1 is out of range"),
                    HasSubstr("1 field")));
}

TEST_F(BadTable, NonNumericLabelNamesLineColumnAndValue) {
  const std::string p = file("l.csv", "text,label\ngood,1\nbad,maybe\n");
  EXPECT_THAT(loom_error([&] { text::read_csv(p); }),
              AllOf(HasSubstr(p + ":3:5"), HasSubstr("maybe"), HasSubstr("is not an integer")));
}

TEST_F(BadTable, InvalidUtf8InFileIsAnErrorUnderPolicyError) {
  const std::string p = file("u.csv", "text,label\ngood,1\nba\xff" "d,0\n");
  text::TableOptions o;
  o.invalid_utf8 = text::Utf8Policy::error;
  EXPECT_THAT(loom_error([&] { text::read_csv(p, o); }),
              AllOf(HasSubstr(p + ":3:3"), HasSubstr("invalid UTF-8 byte 0xFF")));
}

TEST_F(BadTable, InvalidUtf8InFileIsReplacedByDefault) {
  const std::string p = file("u.csv", "text,label\ngood,1\nba\xff" "d,0\n");
  text::TextDataset d = text::read_csv(p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.texts[1], "ba\xEF\xBF\xBD" "d");  // U+FFFD in place of the bad byte
  EXPECT_EQ(text::find_invalid_utf8(d.texts[1]), std::string::npos);
}

TEST_F(BadTable, EmptyFileSaysItHoldsNoExample) {
  const std::string p = file("empty.tsv", "");
  EXPECT_THAT(loom_error([&] { text::read_tsv(p); }), AllOf(HasSubstr(p), HasSubstr("no examples")));
}

TEST_F(BadTable, FileOfBlankLinesSaysItHoldsNoExample) {
  const std::string p = file("blank.csv", "\n\r\n\n\n");
  EXPECT_THAT(loom_error([&] { text::read_csv(p); }), AllOf(HasSubstr(p), HasSubstr("no examples")));
}

TEST_F(BadTable, BlankLinesAreSkippedAndLaterErrorsKeepTrueLineNumbers) {
  const std::string good = file("g.csv", "text,label\n\na,1\n\n\r\nb,0\n\n");
  text::TextDataset d = text::read_csv(good);
  EXPECT_EQ(d.texts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.labels, (std::vector<int32_t>{1, 0}));
  const std::string bad = file("b.csv", "text,label\n\na,1\n\n\r\nb,x\n");
  EXPECT_THAT(loom_error([&] { text::read_csv(bad); }), HasSubstr(bad + ":6:"));
}

TEST_F(BadTable, HugeSingleLineOf50MBIsReadWhole) {
  const size_t n = size_t{50} << 20;
  {
    std::string content(n, 'a');
    content += ",1\nsmall,0\n";
    write_bytes(path("huge.csv"), content);
  }
  text::TextDataset d = text::read_csv(path("huge.csv"));
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.texts[0].size(), n);
  EXPECT_EQ(d.labels, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(d.texts[1], "small");
}

TEST_F(BadTable, MissingFileIsNamed) {
  const std::string p = path("nope.tsv");
  EXPECT_THAT(loom_error([&] { text::read_tsv(p); }), AllOf(HasSubstr(p), HasSubstr("cannot open")));
}

TEST_F(BadTable, DirectoryInsteadOfFileIsNamed) {
  EXPECT_THAT(loom_error([&] { text::read_csv(dir_.string()); }),
              AllOf(HasSubstr(dir_.string()), HasSubstr("is a directory")));
}

// ---- texts in memory --------------------------------------------------------------------------------

TEST_F(BadText, InvalidUtf8TextsAreVectorizedAsOpaqueBytes) {
  TextVectorization vec;
  vec.adapt({"good \xff\xfe film", "bad \xc3 film"});
  EXPECT_EQ(vec.tokenize("good \xff\xfe film"), (std::vector<std::string>{"good", "\xff\xfe", "film"}));
  EXPECT_NE(vec.token_to_id("\xff\xfe"), TextVectorization::kOovId);
  TextVectorization chars({.split = "character"});
  EXPECT_EQ(chars.tokenize("a\xff" "b"), (std::vector<std::string>{"a", "\xff", "b"}));
  // A vocabulary with such tokens survives its text form.
  TextVectorization back = TextVectorization::from_string(vec.to_string());
  EXPECT_EQ(back.vocabulary(), vec.vocabulary());
}

TEST_F(BadText, InvalidUtf8TextsArePredicted) {
  text::SentimentClassifier clf = tiny_classifier();
  std::vector<double> p = clf.predict_proba({"\xff\xfe", "a good \xc3 film", ""});
  ASSERT_EQ(p.size(), 3u);
  for (double v : p) EXPECT_TRUE(v >= 0.0 && v <= 1.0) << v;
}

TEST_F(BadText, TruncatedVectorizerBlobNamesTheLine) {
  TextVectorization vec;
  vec.adapt({"one two three"});
  std::string blob = vec.to_string();
  blob.resize(blob.size() - 6);  // the last tokens are cut off
  EXPECT_THAT(loom_error([&] { TextVectorization::from_string(blob); }),
              AllOf(HasSubstr("TextVectorization::from_string"), HasSubstr("line")));
}

// ---- token ids -----------------------------------------------------------------------------------------

TEST_F(BadIds, NegativeIdNamesIdPositionAndVocabularySize) {
  auto e = Embedding::make({.input_dim = 10, .output_dim = 3}, "emb");
  Tensor ids = Tensor::from_vector<int32_t>({1, -1}, {1, 2});
  EXPECT_THAT(loom_error([&] { (*e)(ids); }),
              AllOf(HasSubstr("Embedding 'emb'"), HasSubstr("id -1 at position (0, 1)"),
                    HasSubstr("input_dim 10"), HasSubstr("valid ids are 0 to 9")));
}

TEST_F(BadIds, IdEqualToInputDimNamesIdAndVocabularySize) {
  auto e = Embedding::make({.input_dim = 10, .output_dim = 3}, "emb");
  Tensor ids = Tensor::from_vector<int64_t>({0, 9, 10}, {3, 1});
  EXPECT_THAT(loom_error([&] { (*e)(ids); }),
              AllOf(HasSubstr("id 10 at position (2, 0)"), HasSubstr("input_dim 10")));
}

TEST_F(BadIds, OutOfRangeIdInFitLeavesTheModelUnchanged) {
  auto model = trained_embedding_model();
  const test::ModelState before = snapshot(*model);
  Tensor ids = Tensor::from_vector<int32_t>({1, 2, 3, 4, 5, 6, 7, 12}, {2, 4});
  EXPECT_THAT(loom_error([&] { model->fit(ids, Tensor::of({0, 1}), {.shuffle = false, .verbose = 0}); }),
              AllOf(HasSubstr("Embedding 'emb'"), HasSubstr("id 12"), HasSubstr("input_dim 10")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadIds, FractionalFloatIdNamesItsPosition) {
  auto model = trained_embedding_model();
  const test::ModelState before = snapshot(*model);
  Tensor ids = Tensor::of2d({{1, 2, 3, 4}, {5, 6.5, 7, 8}});
  EXPECT_THAT(loom_error([&] { model->fit(ids, Tensor::of({0, 1}), {.shuffle = false, .verbose = 0}); }),
              AllOf(HasSubstr("id 6.5 at position (1, 1)"), HasSubstr("is not an integer")));
  test::expect_state_unchanged(before, *model);
}

// ---- labels the loss cannot take ------------------------------------------------------------------

TEST_F(BadLabels, SparseLabelTooLargeNamesLabelAndClassCount) {
  auto model = trained_softmax();
  const test::ModelState before = snapshot(*model);
  EXPECT_THAT(loom_error([&] {
                model->fit(Tensor::of2d({{0, 1}, {1, 0}}), Tensor::of({1, 3}), {.shuffle = false, .verbose = 0});
              }),
              AllOf(HasSubstr("label 3"), HasSubstr("3 classes"), HasSubstr("valid labels are 0 to 2")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadLabels, SparseLabelNegativeNamesLabel) {
  auto model = trained_softmax();
  const test::ModelState before = snapshot(*model);
  EXPECT_THAT(loom_error([&] { model->evaluate(Tensor::of2d({{0, 1}}), Tensor::of({-1})); }),
              AllOf(HasSubstr("label -1"), HasSubstr("3 classes")));
  test::expect_state_unchanged(before, *model);
}

// PENDING a fix in layers/training/fit.cpp (check_targets in fit and
// evaluate): binary cross-entropy targets must lie in [0, 1] (a NaN target
// is left to the non-finite loss check below).
TEST_F(BadLabels, BinaryLabelOutsideZeroOneIsRefused) {
  auto model = trained_mlp("bin");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 3);
  y.set({5}, 2.0);
  EXPECT_THAT(loom_error([&] { model->fit(x, y, {.batch_size = 4, .verbose = 0}); }),
              AllOf(HasSubstr("fit: binary_crossentropy targets must be in [0, 1]"), HasSubstr("y[5] is 2"),
                    HasSubstr("(8,)")));
  y.set({5}, 1.0);
  y.set({6}, -1.0);
  EXPECT_THAT(loom_error([&] { model->evaluate(x, y); }),
              AllOf(HasSubstr("evaluate: binary_crossentropy targets must be in [0, 1]"), HasSubstr("y[6] is -1")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadLabels, SentimentLabelThatIsNotBinaryIsNamed) {
  text::TextDataset train;
  train.push_back("a good film", 1);
  train.push_back("a bad film", 0);
  train.push_back("a strange film", 2);
  text::SentimentTrainOptions o;
  o.model.kind = "bow";
  o.model.embed_dim = 4;
  o.epochs = 1;
  o.validation_split = 0;
  o.verbose = 0;
  EXPECT_THAT(loom_error([&] { text::train_sentiment_classifier(train, {}, {}, o); }),
              AllOf(HasSubstr("has label 2"), HasSubstr("labels 0")));
}

// ---- NaN and Inf -------------------------------------------------------------------------------------

// A regression model (mse), whose targets may be any number.
std::shared_ptr<Model> trained_regression(const std::string& name) {
  auto [x, y] = test::linear_problem(32, 7);
  auto model = test::small_mlp(name, 0.0, 11, "linear");
  model->compile({.optimizer = "adam", .loss = "mse"});
  model->fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
  return model;
}

// PENDING a fix in layers/training/fit.cpp (train_step): a non-finite batch
// loss stops fit with an error before the update.
TEST_F(NonFinite, NaNTargetStopsFitBeforeTheUpdate) {
  auto model = trained_regression("nantarget");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(16, 4);
  y.set({1}, std::nan(""));
  EXPECT_THAT(loom_error([&] { model->fit(x, y, {.batch_size = 4, .shuffle = false, .verbose = 0}); }),
              AllOf(HasSubstr("fit: the loss is not finite (nan) at epoch 1, batch 1"),
                    HasSubstr("update was not applied")));
  test::expect_state_unchanged(before, *model);
}

// PENDING the same fit.cpp fix.
TEST_F(NonFinite, NaNInputStopsFitBeforeTheUpdate) {
  auto model = trained_mlp("naninput");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(16, 4);
  x.set({2, 1}, std::nan(""));
  EXPECT_THAT(loom_error([&] { model->fit(x, y, {.batch_size = 4, .shuffle = false, .verbose = 0}); }),
              AllOf(HasSubstr("is not finite"), HasSubstr("at epoch 1, batch 1"),
                    HasSubstr("update was not applied")));
  test::expect_state_unchanged(before, *model);
}

// PENDING the same fit.cpp fix (an infinite input can give a finite loss
// and non-finite gradients, so the gradients are checked too).
TEST_F(NonFinite, InfInputStopsFitBeforeTheUpdate) {
  auto model = trained_mlp("infinput");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(16, 4);
  x.set({0, 0}, std::numeric_limits<double>::infinity());
  EXPECT_THAT(loom_error([&] { model->fit(x, y, {.batch_size = 4, .shuffle = false, .verbose = 0}); }),
              AllOf(HasSubstr("is not finite"), HasSubstr("at epoch 1, batch 1"),
                    HasSubstr("update was not applied")));
  test::expect_state_unchanged(before, *model);
}

// PENDING the same fit.cpp fix: training that diverges stops at the first
// non-finite batch with the last good weights.
TEST_F(NonFinite, DivergingTrainingStopsWithTheLastGoodWeights) {
  auto [x, y] = test::linear_problem(32, 8);
  auto model = test::small_mlp("diverge", 0.0, 11, "linear");
  model->compile({.optimizer_object = std::make_shared<SGD>(SGDOptions{.learning_rate = 1e20}), .loss = "mse"});
  test::ModelState last_good = snapshot(*model);
  auto keep = std::make_shared<LambdaCallback>();
  keep->batch_end = [&](int64_t, const Logs&) { last_good = snapshot(*model); };
  EXPECT_THAT(loom_error([&] {
                model->fit(x, y, {.batch_size = 4, .epochs = 3, .shuffle = false, .callbacks = {keep}, .verbose = 0});
              }),
              AllOf(HasSubstr("is not finite"), HasSubstr("update was not applied")));
  test::expect_state_unchanged(last_good, *model);
  EXPECT_TRUE(test::all_finite(*model));
}

// PENDING the same fit.cpp fix: with TerminateOnNaN, fit stops without an
// error (Keras), but without applying the poisoned update (unlike Keras).
TEST_F(NonFinite, TerminateOnNaNStopsWithoutApplyingTheBadBatch) {
  auto model = trained_mlp("terminate");
  auto [x, y] = test::linear_problem(16, 12);
  y.set({5}, std::nan(""));  // batch 1 of 4
  test::ModelState after_batch0;
  auto keep = std::make_shared<LambdaCallback>();
  keep->batch_end = [&](int64_t b, const Logs&) {
    if (b == 0) after_batch0 = snapshot(*model);
  };
  auto stop = std::make_shared<TerminateOnNaN>();  // prints "Batch 1: Invalid loss, ..."
  History h = model->fit(x, y, {.batch_size = 4, .epochs = 2, .shuffle = false, .callbacks = {keep, stop},
                                .verbose = 0});
  EXPECT_TRUE(stop->terminated());
  EXPECT_EQ(h.epochs_run, 1);
  test::expect_state_unchanged(after_batch0, *model);
  EXPECT_TRUE(test::all_finite(*model));
}

TEST_F(NonFinite, EvaluateReportsNaNAndChangesNothing) {
  auto model = trained_mlp("evalnan");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 5);
  x.set({3, 0}, std::nan(""));
  std::map<std::string, double> logs = model->evaluate(x, y, 4);
  EXPECT_TRUE(std::isnan(logs.at("loss")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(NonFinite, PredictKeepsNaNInItsOwnRow) {
  auto model = trained_mlp("prednan");
  auto [x, y] = test::linear_problem(8, 5);
  Tensor clean = model->predict(x, 8);
  x.set({3, 1}, std::nan(""));
  std::vector<float> dirty = model->predict(x, 8).to_vector<float>(), ref = clean.to_vector<float>();
  ASSERT_EQ(dirty.size(), 8u);
  for (size_t i = 0; i < dirty.size(); ++i) {
    if (i == 3) EXPECT_TRUE(std::isnan(dirty[i]));
    else EXPECT_EQ(dirty[i], ref[i]) << "row " << i;
  }
}

// ---- shapes and dtypes at the public entries -------------------------------------------------------

TEST_F(BadShapes, DenseCallWithAnotherLastAxisNamesLayerAndShapes) {
  auto d = Dense::make({.units = 2, .seed = 1}, "d");
  (*d)(Tensor::zeros({4, 3}));
  EXPECT_THAT(loom_error([&] { (*d)(Tensor::zeros({4, 5})); }),
              AllOf(HasSubstr("Dense 'd'"), HasSubstr("last axis 3"), HasSubstr("(4, 5)")));
}

TEST_F(BadShapes, DenseCallWithIntegersNamesTheDtype) {
  auto d = Dense::make({.units = 2, .seed = 1}, "d");
  (*d)(Tensor::zeros({4, 3}));
  EXPECT_THAT(loom_error([&] { (*d)(Tensor::zeros({4, 3}, DType::i32)); }),
              AllOf(HasSubstr("Dense 'd'"), HasSubstr("floating input"), HasSubstr("i32"), HasSubstr("(4, 3)")));
}

TEST_F(BadShapes, RecurrentLayerCallWithoutTimeAxisNamesLayerAndShape) {
  auto l = LSTM::make({.units = 2}, "rnn");
  EXPECT_THAT(loom_error([&] { (*l)(Tensor::zeros({4, 3})); }),
              AllOf(HasSubstr("LSTM 'rnn'"), HasSubstr("(4, 3)")));
}

TEST_F(BadShapes, ModelInputOfAnotherShapeNamesInputAndShapes) {
  auto model = trained_mlp("shape");
  EXPECT_THAT(loom_error([&] { model->predict(Tensor::zeros({4, 3})); }),
              AllOf(HasSubstr("input 0 ('shape_in')"), HasSubstr("(None, 2)"), HasSubstr("(4, 3)")));
}

TEST_F(BadShapes, FitWithFewerLabelsThanSamplesNamesBothShapes) {
  auto model = trained_mlp("count");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 2);
  EXPECT_THAT(loom_error([&] { model->fit(x, y.slice(0, 0, 7), {.verbose = 0}); }),
              HasSubstr("fit: x of shape (8, 2) has 8 samples but y of shape (7,) has 7"));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, FitWithTargetsOfAnotherShapeNamesBothShapes) {
  auto model = trained_mlp("targets");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 2);
  EXPECT_THAT(loom_error([&] { model->fit(x, Tensor::zeros({8, 3}), {.batch_size = 8, .verbose = 0}); }),
              AllOf(HasSubstr("binary_crossentropy"), HasSubstr("targets of shape (8, 3)"),
                    HasSubstr("predictions of shape (8, 1)")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, FitWithTwoInputsForAOneInputModelNamesBothCounts) {
  auto model = trained_mlp("two");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 2);
  EXPECT_THAT(loom_error([&] { model->fit(std::vector<Tensor>{x, x}, y, {.verbose = 0}); }),
              HasSubstr("model 'two' has 1 inputs but x has 2 tensors"));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, FitWithIntegerFeaturesNamesLayerAndDtype) {
  auto model = trained_mlp("ints");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 2);
  EXPECT_THAT(loom_error([&] { model->fit(x.to(DType::i32), y, {.verbose = 0}); }),
              AllOf(HasSubstr("Dense 'ints_hidden'"), HasSubstr("floating input"), HasSubstr("i32")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, EvaluateWithAnotherInputShapeNamesIt) {
  auto model = trained_mlp("eval");
  EXPECT_THAT(loom_error([&] { model->evaluate(Tensor::zeros({8, 3}), Tensor::zeros({8})); }),
              AllOf(HasSubstr("input 0 ('eval_in')"), HasSubstr("(8, 3)")));
}

TEST_F(BadShapes, NonPositiveBatchSizesNameTheArgument) {
  auto model = trained_mlp("batch");
  const test::ModelState before = snapshot(*model);
  auto [x, y] = test::linear_problem(8, 2);
  EXPECT_THAT(loom_error([&] { model->predict(x, 0); }), HasSubstr("predict: batch_size must be positive, got 0"));
  EXPECT_THAT(loom_error([&] { model->evaluate(x, y, -1); }),
              HasSubstr("evaluate: batch_size must be positive, got -1"));
  EXPECT_THAT(loom_error([&] { model->fit(x, y, {.batch_size = 0, .verbose = 0}); }),
              HasSubstr("fit: batch_size must be positive, got 0"));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, FitOnAnUncompiledModelSaysCompileFirst) {
  auto model = test::small_mlp("raw");
  auto [x, y] = test::linear_problem(8, 2);
  EXPECT_THAT(loom_error([&] { model->fit(x, y, {.verbose = 0}); }),
              HasSubstr("fit: model 'raw' is not compiled; call compile() first"));
}

TEST_F(BadShapes, SetWeightsWithOneWrongShapeChangesNothing) {
  auto model = trained_mlp("setw");
  const test::ModelState before = snapshot(*model);
  std::vector<Tensor> values = model->get_weights();  // kernel, bias, kernel, bias
  values[0] = Tensor::ones(values[0].shape());         // valid, but must not be applied
  values[2] = Tensor::zeros({1, 8});                    // (8, 1) expected
  EXPECT_THAT(loom_error([&] { model->set_weights(values); }),
              AllOf(HasSubstr("'setw_out/kernel' has shape (8, 1)"), HasSubstr("tensor 2 has shape (1, 8)")));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, SetWeightsWithAWrongCountNamesBothCounts) {
  auto model = trained_mlp("setn");
  const test::ModelState before = snapshot(*model);
  std::vector<Tensor> values = model->get_weights();
  values.pop_back();
  EXPECT_THAT(loom_error([&] { model->set_weights(values); }),
              HasSubstr("set_weights got 3 tensors but the layer has 4 weights"));
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadShapes, SetWeightsConvertsAnotherFloatDtypeAsKerasDoes) {
  auto model = trained_mlp("setd");
  const std::vector<Tensor> original = model->get_weights();
  std::vector<Tensor> as_f64;
  for (const Tensor& w : original) as_f64.push_back(w.to(DType::f64));
  model->set_weights(as_f64);
  std::vector<Tensor> now = model->get_weights();
  for (size_t i = 0; i < now.size(); ++i) {
    EXPECT_EQ(now[i].dtype(), DType::f32);
    EXPECT_TRUE(test::bit_equal(now[i], original[i])) << "weight " << i;
  }
}

TEST_F(BadShapes, SentimentPredictProbaBatchSizeZeroNamesTheArgument) {
  text::SentimentClassifier clf = tiny_classifier();
  EXPECT_THAT(loom_error([&] { clf.predict_proba({"a good film"}, 0); }),
              HasSubstr("batch_size must be positive, got 0"));
}

// ---- names: layer classes, optimizers, losses, metrics, activations --------------------------------

TEST_F(BadNames, UnknownLayerClassInArchitectureJsonIsNamed) {
  auto model = trained_mlp("arch");
  Json a = model->to_architecture();
  a.at("layers").at(0).at("class_name") = "Densse";
  EXPECT_THAT(loom_error([&] { Model::from_architecture(a); }),
              AllOf(HasSubstr("unknown layer type 'Densse'"), HasSubstr("registered types are")));
}

TEST_F(BadNames, UnknownLayerClassInModelFileNamesFileAndClass) {
  trained_mlp("archf")->save(path("m.loom"));
  rewrite_header(path("m.loom"), path("odd.loom"),
                 [](Json& h) { h.at("model").at("layers").at(0).at("class_name") = "Densse"; });
  EXPECT_THAT(loom_error([&] { load_model(path("odd.loom")); }),
              AllOf(HasSubstr("load_model '" + path("odd.loom") + "'"), HasSubstr("unknown layer type 'Densse'")));
}

TEST_F(BadNames, UnknownOptimizerKeepsThePreviousCompile) {
  auto model = trained_mlp("opt");
  const test::ModelState before = snapshot(*model);
  const auto optimizer = model->optimizer();
  EXPECT_THAT(loom_error([&] { model->compile({.optimizer = "adamm", .loss = "binary_crossentropy"}); }),
              AllOf(HasSubstr("unknown optimizer 'adamm'"), HasSubstr("adam")));
  EXPECT_EQ(model->optimizer(), optimizer);
  test::expect_state_unchanged(before, *model);
}

TEST_F(BadNames, UnknownLossIsListedAndKeepsThePreviousCompile) {
  auto model = trained_mlp("loss");
  const auto optimizer = model->optimizer();
  EXPECT_THAT(loom_error([&] { model->compile({.optimizer = "sgd", .loss = "binary_crossentropyy"}); }),
              AllOf(HasSubstr("unknown loss 'binary_crossentropyy'"), HasSubstr("valid losses: binary_crossentropy")));
  EXPECT_EQ(model->optimizer(), optimizer);
  EXPECT_EQ(model->compile_options().loss, "binary_crossentropy");
}

TEST_F(BadNames, UnknownMetricIsListed) {
  auto model = test::small_mlp("metric");
  EXPECT_THAT(loom_error([&] { model->compile({.loss = "mse", .metrics = {"f1"}}); }),
              AllOf(HasSubstr("unknown metric 'f1'"), HasSubstr("valid metrics: accuracy")));
  EXPECT_FALSE(model->compiled());
}

TEST_F(BadNames, UnknownActivationNamesTheLayer) {
  EXPECT_THAT(loom_error([&] { Dense::make({.units = 1, .activation = "relux"}, "d"); }),
              HasSubstr("Dense 'd': activation: unknown activation 'relux'"));
}

// PENDING a fix in layers/saving/saving.cpp (load_model): the compile
// section's names are errors naming the file.
TEST_F(BadNames, UnknownLossInModelFileNamesTheFile) {
  trained_mlp("lossf")->save(path("m.loom"));
  rewrite_header(path("m.loom"), path("odd.loom"), [](Json& h) { h.at("compile").at("loss") = "hinge"; });
  EXPECT_THAT(loom_error([&] { load_model(path("odd.loom")); }),
              AllOf(HasSubstr("load_model '" + path("odd.loom") + "'"), HasSubstr("unknown loss 'hinge'")));
}

// PENDING the same saving.cpp fix.
TEST_F(BadNames, UnknownOptimizerInModelFileNamesTheFile) {
  trained_mlp("optf")->save(path("m.loom"));
  rewrite_header(path("m.loom"), path("odd.loom"), [](Json& h) { h.at("compile").at("optimizer") = "Adadelta"; });
  EXPECT_THAT(loom_error([&] { load_model(path("odd.loom")); }),
              AllOf(HasSubstr("load_model '" + path("odd.loom") + "'"), HasSubstr("unknown optimizer 'Adadelta'")));
}

// ---- model files -----------------------------------------------------------------------------------------

TEST_F(BadModelFile, TruncatedFileNamesExpectedAndActualSizes) {
  trained_mlp("trunc")->save(path("m.loom"));
  const std::string bytes = read_bytes(path("m.loom"));
  write_bytes(path("cut.loom"), bytes.substr(0, bytes.size() - 100));
  EXPECT_THAT(loom_error([&] { load_model(path("cut.loom")); }),
              AllOf(HasSubstr(path("cut.loom")), HasSubstr("truncated"),
                    HasSubstr(fmt::format("expected {} bytes, file has {}", bytes.size(), bytes.size() - 100))));
}

TEST_F(BadModelFile, EmptyFileIsNotACheckpoint) {
  write_bytes(path("empty.loom"), "");
  EXPECT_THAT(loom_error([&] { load_model(path("empty.loom")); }),
              AllOf(HasSubstr(path("empty.loom")), HasSubstr("not a Loom checkpoint"), HasSubstr("0 bytes")));
}

TEST_F(BadModelFile, TextFileIsNotACheckpoint) {
  write_bytes(path("notes.loom"), "these are not weights\n");
  EXPECT_THAT(loom_error([&] { load_model(path("notes.loom")); }),
              AllOf(HasSubstr(path("notes.loom")), HasSubstr("not a Loom checkpoint")));
}

TEST_F(BadModelFile, EveryFlippedBitIsCaught) {
  trained_mlp("flip")->save(path("m.loom"));
  const std::string bytes = read_bytes(path("m.loom"));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    write_bytes(path("bad.loom"), bad);
    const std::string msg = loom_error([&] { load_model(path("bad.loom")); }, /*record=*/false);
    ASSERT_THAT(msg, HasSubstr(path("bad.loom"))) << "byte " << i;
    ASSERT_THAT(msg, ::testing::AnyOf(HasSubstr("corrupted"), HasSubstr("not a Loom checkpoint"))) << "byte " << i;
  }
}

TEST_F(BadModelFile, WrongFormatVersionNamesBothVersions) {
  trained_mlp("version")->save(path("m.loom"));
  std::string bytes = read_bytes(path("m.loom"));
  const uint32_t version = kCheckpointFormatVersion + 1;
  std::memcpy(&bytes[8], &version, 4);
  const uint32_t header_crc = crc32(bytes.data(), 28);  // a well-formed file of the other version
  std::memcpy(&bytes[28], &header_crc, 4);
  const uint32_t file_crc = crc32(bytes.data(), bytes.size() - 4);
  std::memcpy(&bytes[bytes.size() - 4], &file_crc, 4);
  write_bytes(path("v2.loom"), bytes);
  EXPECT_THAT(loom_error([&] { load_model(path("v2.loom")); }),
              AllOf(HasSubstr(path("v2.loom")),
                    HasSubstr(fmt::format("format version {}, but this build of Loom reads version {}", version,
                                          kCheckpointFormatVersion))));
}

TEST_F(BadModelFile, NewerLoomMajorVersionIsRefusedNamingBoth) {
  trained_mlp("major")->save(path("m.loom"));
  rewrite_header(path("m.loom"), path("new.loom"), [](Json& h) { h["loom_version"] = "99.0.0"; });
  const std::string expected = fmt::format("written by Loom 99.0.0, a newer major version than this Loom {}", version());
  EXPECT_THAT(loom_error([&] { load_model(path("new.loom")); }), AllOf(HasSubstr(path("new.loom")), HasSubstr(expected)));
  auto model = test::small_mlp("major");
  const std::vector<Tensor> before = model->get_weights();
  EXPECT_THAT(loom_error([&] { model->load_weights(path("new.loom")); }), HasSubstr(expected));
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(test::bit_equal(model->get_weights()[i], before[i]));
}

TEST_F(BadModelFile, WeightsOfAnotherArchitectureNameTheParameters) {
  trained_mlp("first")->save_weights(path("w.loom"));
  auto other = trained_mlp("second");
  const test::ModelState before = snapshot(*other);
  EXPECT_THAT(loom_error([&] { other->load_weights(path("w.loom")); }),
              AllOf(HasSubstr("load_weights '" + path("w.loom") + "'"), HasSubstr("no weights for parameter(s)"),
                    HasSubstr("second_hidden/kernel")));
  test::expect_state_unchanged(before, *other);
}

TEST_F(BadModelFile, WeightsOfAnotherShapeNameParameterAndShapes) {
  trained_mlp("same")->save_weights(path("w.loom"));
  auto in = Input({2}, DType::f32, "same_in");
  auto h = Dense::make({.units = 4, .activation = "relu", .seed = 1}, "same_hidden")(in);
  auto out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 2}, "same_out")(h);
  Model narrow({in}, {out}, "same");
  const std::vector<Tensor> before = narrow.get_weights();
  EXPECT_THAT(loom_error([&] { narrow.load_weights(path("w.loom")); }),
              AllOf(HasSubstr("parameter 'same_hidden/kernel' has shape (2, 4) in the model but (2, 8) in the file")));
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(test::bit_equal(narrow.get_weights()[i], before[i]));
}

TEST_F(BadModelFile, WeightsOfAnotherDtypeNameParameterAndDtypes) {
  trained_mlp("dt")->save_weights(path("w.loom"));
  auto in = Input({2}, DType::f64, "dt_in");  // builds every layer in f64
  auto h = Dense::make({.units = 8, .activation = "relu", .seed = 1}, "dt_hidden")(in);
  auto out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 2}, "dt_out")(h);
  Model wide({in}, {out}, "dt");
  const std::vector<Tensor> before = wide.get_weights();
  EXPECT_THAT(loom_error([&] { wide.load_weights(path("w.loom")); }),
              HasSubstr("parameter 'dt_hidden/kernel' is f64 in the model but f32 in the file"));
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(test::bit_equal(wide.get_weights()[i], before[i]));
}

TEST_F(BadModelFile, WeightsOnlyFileGivenToLoadModelSaysSo) {
  trained_mlp("wonly")->save_weights(path("w.loom"));
  EXPECT_THAT(loom_error([&] { load_model(path("w.loom")); }),
              AllOf(HasSubstr(path("w.loom")), HasSubstr("holds weights only"), HasSubstr("load_weights")));
}

TEST_F(BadModelFile, MissingFileIsNamedWithTheReason) {
  EXPECT_THAT(loom_error([&] { load_model(path("none.loom")); }),
              AllOf(HasSubstr(path("none.loom")), HasSubstr("cannot open"), HasSubstr(std::strerror(ENOENT))));
}

// ---- faults while saving ------------------------------------------------------------------------------

TEST_F(SaveFault, DiskFullKeepsThePreviousFileIntact) {
  auto model = trained_mlp("full");
  model->save(path("m.loom"));
  const std::string good = read_bytes(path("m.loom"));
  auto newer = trained_mlp("full", 12);
  std::string msg;
  {
    test::FileSizeLimit limit(good.size() / 2);  // the new file cannot be written whole
    ASSERT_TRUE(limit.ok());
    msg = loom_error([&] { newer->save(path("m.loom")); });
  }
  EXPECT_THAT(msg, AllOf(HasSubstr(path("m.loom")), HasSubstr(std::strerror(EFBIG))));
  EXPECT_EQ(read_bytes(path("m.loom")), good);
  EXPECT_EQ(test::dir_listing(dir_), std::vector<std::string>{"m.loom"});  // no temporary left
  auto back = load_model(path("m.loom"));
  test::expect_same_weights(*back, *model);
}

TEST_F(SaveFault, DiskFullDuringSentimentSaveKeepsThePreviousFile) {
  text::SentimentClassifier clf = tiny_classifier();
  clf.save(path("s.loom"));
  const std::string good = read_bytes(path("s.loom"));
  std::string msg;
  {
    test::FileSizeLimit limit(good.size() / 2);
    ASSERT_TRUE(limit.ok());
    msg = loom_error([&] { clf.save(path("s.loom"), Json::object({{"note", "second save"}})); });
  }
  EXPECT_THAT(msg, AllOf(HasSubstr(path("s.loom")), HasSubstr(std::strerror(EFBIG))));
  EXPECT_EQ(read_bytes(path("s.loom")), good);
  EXPECT_EQ(test::dir_listing(dir_), std::vector<std::string>{"s.loom"});
  EXPECT_EQ(text::SentimentClassifier::load(path("s.loom")).predict_proba({"a good film"}),
            clf.predict_proba({"a good film"}));
}

TEST_F(SaveFault, MissingDirectoryIsNamed) {
  auto model = trained_mlp("nodir");
  const std::string p = path("no/such/dir/m.loom");
  EXPECT_THAT(loom_error([&] { model->save(p); }),
              AllOf(HasSubstr("cannot create"), HasSubstr(p), HasSubstr(std::strerror(ENOENT))));
  EXPECT_FALSE(fs::exists(path("no")));
}

TEST_F(SaveFault, PathThroughARegularFileIsNamed) {
  auto model = trained_mlp("notdir");
  write_bytes(path("plain"), "a file, not a folder");
  EXPECT_THAT(loom_error([&] { model->save(path("plain/m.loom")); }),
              AllOf(HasSubstr(path("plain/m.loom")), HasSubstr(std::strerror(ENOTDIR))));
  EXPECT_EQ(read_bytes(path("plain")), "a file, not a folder");
}

TEST_F(SaveFault, TargetThatIsADirectoryIsLeftAlone) {
  auto model = trained_mlp("isdir");
  fs::create_directory(path("d.loom"));
  write_bytes(path("d.loom/keep.txt"), "kept");
  EXPECT_THAT(loom_error([&] { model->save(path("d.loom")); }),
              AllOf(HasSubstr(path("d.loom")), HasSubstr(std::strerror(EISDIR))));
  EXPECT_EQ(test::dir_listing(dir_), std::vector<std::string>{"d.loom"});  // no temporary left
  EXPECT_EQ(read_bytes(path("d.loom/keep.txt")), "kept");
}

// ---- out of memory -----------------------------------------------------------------------------------

TEST_F(OutOfMemory, HugeEmbeddingVocabularyNamesLayerShapeAndBytes) {
  // 2^40 rows of 2^20 floats: 2^62 bytes, more than any machine can map.
  auto e = Embedding::make({.input_dim = int64_t{1} << 40, .output_dim = int64_t{1} << 20}, "huge");
  EXPECT_THAT(loom_error([&] { (*e)(Tensor::from_vector<int32_t>({1, 2}, {1, 2})); }),
              AllOf(HasSubstr("Embedding 'huge'"), HasSubstr("(1099511627776, 1048576)"),
                    HasSubstr("4611686018427387904 bytes"), HasSubstr("out of memory")));
}

TEST_F(OutOfMemory, EmbeddingBeyondTheAddressSpaceIsNamed) {
  // 2^40 x 2^40 floats: the byte count does not even fit in 64 bits.
  auto e = Embedding::make({.input_dim = int64_t{1} << 40, .output_dim = int64_t{1} << 40}, "vast");
  EXPECT_THAT(loom_error([&] { (*e)(Tensor::from_vector<int32_t>({1}, {1, 1})); }),
              AllOf(HasSubstr("Embedding 'vast'"), HasSubstr("(1099511627776, 1099511627776)"),
                    HasSubstr("more than 2^63 bytes")));
}

TEST_F(OutOfMemory, HugeVocabularyCountInVectorizerBlobIsRefused) {
  TextVectorization vec;
  vec.adapt({"one two three"});
  std::string blob = vec.to_string();
  const std::string line = fmt::format("vocabulary {}\n", vec.vocabulary_size());
  const size_t at = blob.find(line);
  ASSERT_NE(at, std::string::npos);
  blob.replace(at, line.size(), "vocabulary 1000000000000000\n");
  EXPECT_THAT(loom_error([&] { TextVectorization::from_string(blob); }),
              AllOf(HasSubstr("TextVectorization::from_string: line 9"), HasSubstr("1000000000000000")));
}

TEST_F(OutOfMemory, HugeVocabularyInModelFileNamesFileAndLayer) {
  trained_embedding_model()->save(path("m.loom"));
  rewrite_header(path("m.loom"), path("huge.loom"), [](Json& h) {
    Json& layers = h.at("model").at("layers");
    for (size_t i = 0; i < layers.size(); ++i)
      if (layers.at(i).get_string("class_name") == "Embedding")
        layers.at(i).at("config").at("input_dim") = Json(int64_t{1} << 58);
  });
  EXPECT_THAT(loom_error([&] { load_model(path("huge.loom")); }),
              AllOf(HasSubstr("load_model '" + path("huge.loom") + "'"), HasSubstr("Embedding 'emb'"),
                    HasSubstr("(288230376151711744, 3)"), HasSubstr("bytes")));
}

// ---- train_sentiment / predict_sentiment command lines ---------------------------------------------

TEST_F(BadCli, TrainUnknownFlagListsTheValidOnes) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_train_args({"--epoch", "3"}); }),
              AllOf(HasSubstr("unknown flag '--epoch'"), HasSubstr("valid flags"), HasSubstr("--epochs")));
}

TEST_F(BadCli, TrainFlagWithoutValueIsNamed) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_train_args({"--seed", "1", "--epochs"}); }),
              HasSubstr("flag --epochs needs a value"));
}

TEST_F(BadCli, TrainMalformedNumberNamesFlagRangeAndValue) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_train_args({"--epochs=three"}); }),
              HasSubstr("flag --epochs: expected an integer in [1, 100000], got 'three'"));
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_train_args({"--lr", "nan"}); }),
              HasSubstr("flag --lr: expected a number > 0, got 'nan'"));
}

TEST_F(BadCli, TrainFlagGivenTwiceIsNamed) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_train_args({"--seed", "1", "--seed=2"}); }),
              HasSubstr("flag --seed is given more than once"));
}

TEST_F(BadCli, TrainUnknownDataKindIsNamed) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_train_args({"--data", "parquet:x.pq"}); }),
              AllOf(HasSubstr("flag --data"), HasSubstr("tsv:FILE"), HasSubstr("got 'parquet:x.pq'")));
}

TEST_F(BadCli, TrainMissingDataFileIsNamed) {
  auto args = sentiment_cli::parse_train_args({"--data", "tsv:" + path("missing.tsv")});
  EXPECT_THAT(loom_error([&] { sentiment_cli::load_train_data(args); }),
              AllOf(HasSubstr(path("missing.tsv")), HasSubstr("cannot open")));
}

TEST_F(BadCli, TrainMissingImdbFolderIsNamed) {
  auto args = sentiment_cli::parse_train_args({"--data", "imdb:" + path("aclImdb")});
  EXPECT_THAT(loom_error([&] { sentiment_cli::load_train_data(args); }),
              AllOf(HasSubstr(path("aclImdb")), HasSubstr("is not a directory")));
}

TEST_F(BadCli, PredictWithoutModelFlagSaysItIsRequired) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_predict_args({"a good film"}); }),
              HasSubstr("flag --model is required"));
}

TEST_F(BadCli, PredictThresholdOutOfRangeIsNamed) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::parse_predict_args({"--model", "m.loom", "--threshold", "1.5"}); }),
              HasSubstr("flag --threshold: expected a number in [0, 1], got '1.5'"));
}

TEST_F(BadCli, PredictMissingModelFileIsNamed) {
  EXPECT_THAT(loom_error([&] { text::SentimentClassifier::load(path("none.loom")); }),
              AllOf(HasSubstr(path("none.loom")), HasSubstr(std::strerror(ENOENT))));
}

TEST_F(BadCli, PredictModelThatIsNotASentimentModelIsNamed) {
  trained_mlp("plain")->save(path("plain.loom"));
  EXPECT_THAT(loom_error([&] { text::SentimentClassifier::load(path("plain.loom")); }),
              AllOf(HasSubstr(path("plain.loom")), HasSubstr("not a sentiment model file")));
}

TEST_F(BadCli, PredictMissingInputFileIsNamed) {
  EXPECT_THAT(loom_error([&] { sentiment_cli::read_input_texts(path("in.csv"), {}); }),
              AllOf(HasSubstr(path("in.csv")), HasSubstr("cannot open")));
}

TEST_F(BadCli, PredictEmptyInputFileIsNamed) {
  write_bytes(path("in.csv"), "");
  EXPECT_THAT(loom_error([&] { sentiment_cli::read_input_texts(path("in.csv"), {}); }),
              AllOf(HasSubstr(path("in.csv")), HasSubstr("holds no text")));
}

TEST_F(BadCli, PredictInputWithANonBinaryLabelIsNamed) {
  write_bytes(path("in.tsv"), "a good film\t1\na bad film\t3\n");
  EXPECT_THAT(loom_error([&] { sentiment_cli::read_input_texts(path("in.tsv"), {}); }),
              AllOf(HasSubstr(path("in.tsv")), HasSubstr("label 3"), HasSubstr("not 0/1")));
}

}  // namespace
}  // namespace loom
