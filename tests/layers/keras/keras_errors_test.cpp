// Bad Keras files: each gives a loom::Error naming the file (and the layer
// and option where there is one), and a failed weight load leaves the model
// as it was. The invalid models in fixtures/bad/ were written by Keras
// (gen/gen_fixtures.py); the damaged files are made here from good fixtures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "layers/training/training_util.h"
#include "loom/layers/dense.h"
#include "loom/layers/embedding.h"
#include "loom/layers/keras/hdf5_file.h"
#include "loom/layers/keras/keras_io.h"
#include "loom/layers/keras/zip_archive.h"
#include "loom/layers/rnn/rnn.h"
#include "reliability/reliability_util.h"

namespace loom {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using test::loom_error;
using test::read_bytes;
using test::write_bytes;

const fs::path kFixtures = LOOM_KERAS_FIXTURES_DIR;

class KerasErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("loom_keras_errors_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string fixture(const std::string& name) { return (kFixtures / name).string(); }
  // A copy of a fixture with its bytes changed by `edit`.
  std::string damaged(const std::string& name, const std::function<void(std::string&)>& edit) const {
    std::string bytes = read_bytes(fixture(name));
    edit(bytes);
    write_bytes(path(name), bytes);
    return path(name);
  }
  // A copy of a .keras fixture with one entry replaced (or removed when `data` is null).
  std::string with_entry(const std::string& name, const std::string& entry, const std::string* data) const {
    std::vector<keras::ZipEntry> out;
    for (keras::ZipEntry& e : keras::read_zip(fixture(name))) {
      if (e.name != entry) out.push_back(std::move(e));
      else if (data) out.push_back({entry, *data});
    }
    keras::write_zip(path(name), out);
    return path(name);
  }
  fs::path dir_;
};

// Embedding(20, 4) -> LSTM(units) -> Dense(1) over (T=6) ids, built.
std::shared_ptr<Model> small_lstm(int64_t units) {
  auto model = std::make_shared<Sequential>(
      Shape{6}, DType::i32,
      std::vector<LayerPtr>{Embedding::make({.input_dim = 20, .output_dim = 4}), LSTM::make({.units = units}),
                            Dense::make({.units = 1})});
  return model;
}

TEST_F(KerasErrors, TruncatedArchive) {
  const std::string p = damaged("embedding_lstm_k3.keras", [](std::string& b) { b.resize(b.size() / 2); });
  EXPECT_THAT(loom_error([&] { load_keras(p); }), HasSubstr(p));
}

TEST_F(KerasErrors, CorruptedArchiveFailsItsChecksum) {
  const std::string p = damaged("embedding_lstm_k3.keras", [](std::string& b) {
    for (size_t i = b.size() / 3; i < b.size() / 3 + 16; ++i) b[i] = static_cast<char>(b[i] ^ 0x5a);
  });
  EXPECT_THAT(loom_error([&] { load_keras(p); }), HasSubstr(p));
}

TEST_F(KerasErrors, TruncatedH5) {
  const std::string p = damaged("embedding_lstm_k2.h5", [](std::string& b) { b.resize(b.size() / 2); });
  EXPECT_THAT(loom_error([&] { load_keras(p); }), HasSubstr(p));
}

TEST_F(KerasErrors, CorruptedH5Signature) {
  const std::string p = damaged("embedding_lstm_k2.h5", [](std::string& b) { b[1] = 'X'; });
  EXPECT_THAT(loom_error([&] { load_keras(p); }), HasSubstr(p));
}

TEST_F(KerasErrors, NotAKerasFile) {
  write_bytes(path("notes.keras"), "just some text, not a zip archive");
  EXPECT_THAT(loom_error([&] { load_keras(path("notes.keras")); }), HasSubstr(path("notes.keras")));
  EXPECT_THAT(loom_error([&] { load_keras(path("model.onnx")); }),
              AllOf(HasSubstr("model.onnx"), HasSubstr(".keras or .h5")));
}

TEST_F(KerasErrors, MissingWeightNamesTheLayerAndPath) {
  // model.weights.h5 with the embedding's table only.
  keras::H5File h5 = keras::H5File::create_image("weights");
  const auto entries = keras::read_zip(fixture("embedding_lstm_k3.keras"));
  for (const auto& e : entries) {
    if (e.name != "model.weights.h5") continue;
    const keras::H5File orig = keras::H5File::open_image(e.data, "orig");
    h5.write_dataset("layers/embedding/vars/0", orig.read_dataset("layers/embedding/vars/0"));
  }
  const std::string image = h5.image();
  const std::string p = with_entry("embedding_lstm_k3.keras", "model.weights.h5", &image);
  EXPECT_THAT(loom_error([&] { load_keras(p); }),
              AllOf(HasSubstr(p), HasSubstr("'lstm'"), HasSubstr("layers/lstm/cell/vars/0"), HasSubstr("missing")));
}

TEST_F(KerasErrors, MissingConfigInArchive) {
  const std::string p = with_entry("embedding_lstm_k3.keras", "config.json", nullptr);
  EXPECT_THAT(loom_error([&] { load_keras(p); }), AllOf(HasSubstr(p), HasSubstr("config.json")));
}

TEST_F(KerasErrors, UnknownKerasVersion) {
  const std::string metadata = R"({"keras_version": "4.0.0", "date_saved": "2027-01-01"})";
  const std::string p = with_entry("embedding_lstm_k3.keras", "metadata.json", &metadata);
  EXPECT_THAT(loom_error([&] { load_keras(p); }), AllOf(HasSubstr(p), HasSubstr("4.0.0")));
}

TEST_F(KerasErrors, UnsupportedLayerIsNamedWithItsPosition) {
  const std::string p = fixture("bad/conv1d_k3.keras");
  EXPECT_THAT(loom_error([&] { load_keras(p); }),
              AllOf(HasSubstr(p), HasSubstr("Conv1D"), HasSubstr("layer "), HasSubstr("not supported")));
}

TEST_F(KerasErrors, CustomLayerIsNamed) {
  const std::string p = fixture("bad/custom_layer_k3.keras");
  EXPECT_THAT(loom_error([&] { load_keras(p); }),
              AllOf(HasSubstr(p), HasSubstr("MyScale"), HasSubstr("custom layer")));
}

TEST_F(KerasErrors, UnsupportedOptionsAreNamed) {
  EXPECT_THAT(loom_error([&] { load_keras(fixture("bad/lstm_constraint_k2.h5")); }),
              AllOf(HasSubstr("lstm_constraint_k2.h5"), HasSubstr("LSTM"), HasSubstr("kernel_constraint")));
  EXPECT_THAT(loom_error([&] { load_keras(fixture("bad/tv_tfidf_k3.keras")); }),
              AllOf(HasSubstr("tv_tfidf_k3.keras"), HasSubstr("TextVectorization"), HasSubstr("output_mode")));
  EXPECT_THAT(loom_error([&] { load_keras(fixture("bad/tv_bigrams_k3.keras")); }),
              AllOf(HasSubstr("tv_bigrams_k3.keras"), HasSubstr("ngrams")));
  EXPECT_THAT(loom_error([&] { load_keras(fixture("bad/mixed_precision_k3.keras")); }),
              AllOf(HasSubstr("mixed_precision_k3.keras"), HasSubstr("mixed_bfloat16")));
}

TEST_F(KerasErrors, WeightsOnlyFileGivenAsAModel) {
  const std::string p = fixture("embedding_lstm_k2_weights.h5");
  EXPECT_THAT(loom_error([&] { load_keras(p); }), AllOf(HasSubstr(p), HasSubstr("load_keras_weights")));
}

TEST_F(KerasErrors, ShapeMismatchLeavesTheModelUnchanged) {
  auto written = small_lstm(3);
  save_keras(*written, path("lstm3.weights.h5"));
  save_keras(*written, path("lstm3.h5"));
  auto model = small_lstm(5);
  const std::vector<Tensor> before = model->get_weights();
  for (const std::string& file : {path("lstm3.weights.h5"), path("lstm3.h5")}) {
    EXPECT_THAT(loom_error([&] { load_keras_weights(*model, file); }),
                AllOf(HasSubstr(file), HasSubstr("LSTM"), HasSubstr("shape")));
    const std::vector<Tensor> after = model->get_weights();
    ASSERT_EQ(before.size(), after.size());
    // The embedding, which comes before the mismatch and fits, was not loaded either.
    for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(test::bit_equal(before[i], after[i])) << file << " weight " << i;
  }
}

TEST_F(KerasErrors, WeightsOfAnotherArchitecture) {
  auto model = small_lstm(3);
  const std::string p = fixture("functional_two_inputs_k3.weights.h5");
  EXPECT_THAT(loom_error([&] { load_keras_weights(*model, p); }), HasSubstr(p));
  const std::string p2 = fixture("functional_two_inputs_k2_weights.h5");
  EXPECT_THAT(loom_error([&] { load_keras_weights(*model, p2); }), AllOf(HasSubstr(p2), HasSubstr("layers")));
}

// A model with a mixed-precision layer is refused by name, not written with
// a policy that would compute differently in Keras; float32 then writes.
TEST_F(KerasErrors, MixedPolicyIsRefusedOnExport) {
  for (const char* name : {"model.keras", "model.h5"}) {
    auto m = small_lstm(3);
    LayerPtr lstm;
    for (const LayerPtr& l : m->layers())
      if (l->type_name() == "LSTM") lstm = l;
    ASSERT_NE(lstm, nullptr);
    lstm->set_dtype_policy("mixed_bfloat16");
    const std::string p = path(name);
    EXPECT_THAT(loom_error([&] { save_keras(*m, p); }),
                AllOf(HasSubstr(lstm->name()), HasSubstr("mixed_bfloat16"), HasSubstr("float32")));
    EXPECT_FALSE(fs::exists(p));
    lstm->set_dtype_policy("float32");
    save_keras(*m, p);
    EXPECT_TRUE(fs::exists(p));
  }
}

TEST_F(KerasErrors, SaveIntoAMissingFolderLeavesNothing) {
  auto model = small_lstm(3);
  for (const char* name : {"model.keras", "model.h5", "model.weights.h5"}) {
    const std::string p = path(std::string("no/such/folder/") + name);
    EXPECT_THAT(loom_error([&] { save_keras(*model, p); }), HasSubstr(name));
  }
  EXPECT_TRUE(test::dir_listing(dir_).empty());
}

TEST_F(KerasErrors, SavingAVectorizerKerasCannotReproduceIsRefused) {
  auto model = small_lstm(3);
  TextVectorization pre({.max_tokens = 20, .output_sequence_length = 6});  // pads "pre"
  pre.adapt({"a good film", "a bad film"});
  EXPECT_THAT(loom_error([&] { save_keras(*model, path("m.keras"), &pre); }),
              AllOf(HasSubstr("pads 'pre'"), HasSubstr("post")));
  TextVectorization post({.max_tokens = 20, .output_sequence_length = 6, .padding = "post",
                          .truncating = "post", .strip_html_breaks = false});
  post.adapt({"a good film", "a bad film"});
  EXPECT_THAT(loom_error([&] { save_keras(*model, path("m.h5"), &post); }), HasSubstr(".keras"));
  save_keras(*model, path("m.keras"), &post);  // the Keras-compatible one is written
  const KerasModel back = load_keras(path("m.keras"));
  ASSERT_TRUE(back.vectorizer.has_value());
  EXPECT_EQ(back.vectorizer->vocabulary(), post.vocabulary());
}

// Not an error case: Keras 2 splits a long layer_names attribute into
// layer_names0, layer_names1, ... (HDF5's object header limit); such a
// weights file loads like any other.
TEST_F(KerasErrors, SplitLayerNamesAttributeLoads) {
  auto source = small_lstm(3);
  auto target = small_lstm(3);
  {
    keras::H5File h5 = keras::H5File::create(path("split_weights.h5"));
    const std::vector<LayerPtr> layers = source->layers();
    const std::vector<std::vector<std::string>> names = {
        {"embedding/embeddings:0"}, {"lstm/kernel:0", "lstm/recurrent_kernel:0", "lstm/bias:0"},
        {"dense/kernel:0", "dense/bias:0"}};
    const std::vector<std::string> groups = {"embedding", "lstm", "dense"};
    for (size_t i = 0; i < 3; ++i) {
      const std::vector<Tensor> w = layers[i]->get_weights();
      for (size_t k = 0; k < w.size(); ++k) h5.write_dataset(groups[i] + "/" + names[i][k], w[k]);
      h5.write_string_list_attr(groups[i], "weight_names", names[i]);
    }
    h5.write_string_list_attr("", "layer_names0", {"embedding", "lstm"});
    h5.write_string_list_attr("", "layer_names1", {"dense"});
    h5.close();
  }
  load_keras_weights(*target, path("split_weights.h5"));
  const std::vector<Tensor> a = source->get_weights(), b = target->get_weights();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(test::bit_equal(a[i], b[i])) << "weight " << i;
}

}  // namespace
}  // namespace loom
