// Model::save / load_model / save_weights / load_weights, resuming training,
// and damaged checkpoints refused.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "layers/training/training_util.h"

namespace loom {
namespace {

using test::linear_problem;
using test::small_mlp;

class Saving : public test::TempDirTest {
 protected:
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void spit(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
};

CompileOptions adam_bce(double lr = 0.01) {
  CompileOptions c;
  c.optimizer_object = std::make_shared<Adam>(AdamOptions{.learning_rate = lr});
  c.loss = "binary_crossentropy";
  c.metrics = {"accuracy", "auc"};
  return c;
}

TEST_F(Saving, SaveLoadPredictIsBitIdentical) {
  auto [x, y] = linear_problem(64, 1);
  auto model = small_mlp("saved", /*dropout=*/0.2);
  model->compile(adam_bce());
  model->fit(x, y, {.epochs = 2, .seed = 1, .verbose = 0});
  model->save(path("m.loom"));

  auto loaded = load_model(path("m.loom"));
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->name(), "saved");
  EXPECT_EQ(loaded->summary(), model->summary());
  test::expect_same_weights(*loaded, *model);
  EXPECT_TRUE(test::bit_equal(loaded->predict(x), model->predict(x)));
  // Compile state comes back: loss, metrics, optimizer class, config and state.
  ASSERT_TRUE(loaded->compiled());
  EXPECT_EQ(loaded->compile_options().loss, "binary_crossentropy");
  EXPECT_EQ(loaded->compile_options().metrics, (std::vector<std::string>{"accuracy", "auc"}));
  EXPECT_EQ(loaded->optimizer()->name(), "Adam");
  EXPECT_EQ(loaded->optimizer()->config(), model->optimizer()->config());
  EXPECT_EQ(loaded->optimizer()->iterations(), model->optimizer()->iterations());
  EXPECT_EQ(loaded->evaluate(x, y), model->evaluate(x, y));
}

TEST_F(Saving, ResumedTrainingMatchesUninterruptedTraining) {
  auto [x, y] = linear_problem(96, 2);
  // Uninterrupted: 4 epochs.
  auto whole = small_mlp("resume", /*dropout=*/0.25);
  whole->compile(adam_bce());
  History hw = whole->fit(x, y, {.batch_size = 16, .epochs = 4, .seed = 9, .verbose = 0});
  // Interrupted after 2 epochs, saved, loaded, resumed at epoch 2.
  auto first = small_mlp("resume", /*dropout=*/0.25);
  first->compile(adam_bce());
  first->fit(x, y, {.batch_size = 16, .epochs = 2, .seed = 9, .verbose = 0});
  first->save(path("resume.loom"));
  first.reset();
  auto resumed = load_model(path("resume.loom"));
  History hr = resumed->fit(x, y, {.batch_size = 16, .epochs = 4, .initial_epoch = 2, .seed = 9, .verbose = 0});
  test::expect_same_weights(*resumed, *whole);
  EXPECT_EQ(resumed->optimizer()->iterations(), whole->optimizer()->iterations());
  ASSERT_EQ(hr.history.at("loss").size(), 2u);
  EXPECT_EQ(hr.history["loss"][0], hw.history["loss"][2]);
  EXPECT_EQ(hr.history["loss"][1], hw.history["loss"][3]);
}

TEST_F(Saving, LearningRateChangedByReduceLROnPlateauSurvives) {
  auto [x, y] = linear_problem(32, 3);
  auto model = small_mlp("lr_saved");
  model->compile(adam_bce(0.01));
  model->optimizer()->set_learning_rate(0.00125);
  model->fit(x, y, {.epochs = 1, .verbose = 0});
  model->save(path("lr.loom"));
  EXPECT_DOUBLE_EQ(load_model(path("lr.loom"))->optimizer()->learning_rate(), 0.00125);
}

TEST_F(Saving, WeightsOnlyRoundTripAndMismatchesNamed) {
  auto [x, y] = linear_problem(32, 4);
  auto model = small_mlp("wmodel");
  model->compile(adam_bce());
  model->fit(x, y, {.epochs = 1, .verbose = 0});
  model->save_weights(path("w.loom"));
  CheckpointFile f = read_checkpoint(path("w.loom"));
  EXPECT_EQ(f.header.get_string("content"), "weights");
  EXPECT_FALSE(f.header.contains("model"));
  EXPECT_TRUE(f.group("optimizer").empty());

  auto other = small_mlp("wmodel", 0.0, /*seed=*/99);  // same names, other initial weights
  EXPECT_FALSE(test::bit_equal(other->predict(x), model->predict(x)));
  other->load_weights(path("w.loom"));
  EXPECT_TRUE(test::bit_equal(other->predict(x), model->predict(x)));

  // Same names, another hidden width: named parameter, both shapes; nothing changes.
  auto in = Input({2}, DType::f32, "wide_in");
  auto h = Dense::make({.units = 5, .activation = "relu", .seed = 1}, "wmodel_hidden")(in);
  auto out = Dense::make({.units = 1, .activation = "sigmoid", .seed = 2}, "wmodel_out")(h);
  Model wide({in}, {out}, "wide");
  auto before = wide.get_weights();
  EXPECT_LOOM_ERROR(wide.load_weights(path("w.loom")),
                    "parameter 'wmodel_hidden/kernel' has shape (2, 5) in the model but (2, 8) in the file");
  auto after = wide.get_weights();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(test::bit_equal(before[i], after[i]));

  // Other names: missing and extra parameters are named.
  auto renamed = small_mlp("renamed");
  EXPECT_LOOM_ERROR(renamed->load_weights(path("w.loom")),
                    "the file has no weights for parameter(s) renamed_hidden/kernel, renamed_hidden/bias");
  auto in2 = Input({2});
  auto out2 = Dense::make({.units = 8, .activation = "relu", .seed = 1}, "wmodel_hidden")(in2);
  Model part({in2}, {out2});
  EXPECT_LOOM_ERROR(part.load_weights(path("w.loom")),
                    "the file has weights for wmodel_out/bias, wmodel_out/kernel that model");
  EXPECT_LOOM_ERROR(load_model(path("w.loom")), "holds weights only (saved with save_weights)");
}

TEST_F(Saving, ExtrasCarryAVocabularyAndMetadata) {
  auto model = small_mlp("extras");
  model->compile(adam_bce());
  CheckpointExtras extras;
  extras.metadata["max_len"] = 80;
  extras.metadata["note"] = "sentiment v1";
  std::vector<std::string> vocab = {"", "[UNK]", "the", "movie", "caf\xc3\xa9"};
  extras.set_string_list("vocabulary", vocab);
  save_model(*model, path("x.loom"), extras);

  CheckpointExtras back;
  auto loaded = load_model(path("x.loom"), &back);
  EXPECT_EQ(back.string_list("vocabulary"), vocab);
  EXPECT_EQ(back.metadata.get_int("max_len"), 80);
  EXPECT_EQ(back.metadata.get_string("note"), "sentiment v1");
  EXPECT_EQ(read_checkpoint_extras(path("x.loom")).string_list("vocabulary"), vocab);
  // Weights files carry extras too.
  save_model_weights(*model, path("xw.loom"), extras);
  EXPECT_EQ(read_checkpoint_extras(path("xw.loom")).metadata.get_int("max_len"), 80);
}

TEST_F(Saving, UncompiledModelSavesArchitectureAndWeights) {
  auto model = small_mlp("plain");
  model->save(path("p.loom"));
  auto loaded = load_model(path("p.loom"));
  EXPECT_FALSE(loaded->compiled());
  test::expect_same_weights(*loaded, *model);
}

TEST_F(Saving, DamagedCheckpointsAreRefused) {
  auto [x, y] = linear_problem(32, 5);
  auto model = small_mlp("damaged");
  model->compile(adam_bce());
  model->fit(x, y, {.epochs = 1, .verbose = 0});
  model->save(path("good.loom"));
  const std::string b = slurp(path("good.loom"));

  // A flipped byte in the middle of the weights.
  std::string c = b;
  c[b.size() / 2] ^= 0x10;
  spit(path("flipped.loom"), c);
  EXPECT_LOOM_ERROR(load_model(path("flipped.loom")), "flipped.loom': corrupted: checksum mismatch in section");
  EXPECT_LOOM_ERROR(model->load_weights(path("flipped.loom")), "corrupted: checksum mismatch");

  // Truncated.
  spit(path("cut.loom"), b.substr(0, b.size() * 2 / 3));
  EXPECT_LOOM_ERROR(load_model(path("cut.loom")),
                    fmt::format("cut.loom': truncated: expected {} bytes, file has {}", b.size(), b.size() * 2 / 3));

  // Another format version.
  c = b;
  uint32_t v = 7;
  std::memcpy(c.data() + 8, &v, 4);
  uint32_t crc = crc32(c.data(), 28);
  std::memcpy(c.data() + 28, &crc, 4);
  spit(path("v7.loom"), c);
  EXPECT_LOOM_ERROR(load_model(path("v7.loom")), "format version 7, but this build of Loom reads version 1");

  // Not a checkpoint at all.
  spit(path("text.loom"), "hello");
  EXPECT_LOOM_ERROR(load_model(path("text.loom")), "not a Loom checkpoint (bad magic number");
  // The good file still loads.
  EXPECT_NO_THROW(load_model(path("good.loom")));
}

// Files record the Loom version that wrote them; a newer major version is
// refused with both versions named, an older or equal one is read.
TEST_F(Saving, CheckpointFromANewerMajorVersionIsRefused) {
  auto [x, y] = linear_problem(16, 1);
  auto model = small_mlp("versioned", /*dropout=*/0.0);
  model->compile(adam_bce());
  model->fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
  model->save(path("m.loom"));
  CheckpointFile f = read_checkpoint(path("m.loom"));
  EXPECT_EQ(f.header.at("loom_version").as_string(), std::string(version()));
  EXPECT_EQ(std::string(version()), LOOM_VERSION_STRING);
  EXPECT_EQ(version_numbers().major, LOOM_VERSION_MAJOR);

  f.header["loom_version"] = fmt::format("{}.0.0", LOOM_VERSION_MAJOR + 1);
  write_checkpoint(path("newer.loom"), f);
  EXPECT_LOOM_ERROR(load_model(path("newer.loom"), nullptr), "newer major version");
  EXPECT_LOOM_ERROR(load_model(path("newer.loom"), nullptr),
                    fmt::format("written by Loom {}.0.0", LOOM_VERSION_MAJOR + 1));

  f.header["loom_version"] = fmt::format("{}.0.0", LOOM_VERSION_MAJOR);  // same major: read
  write_checkpoint(path("same.loom"), f);
  EXPECT_NE(load_model(path("same.loom"), nullptr), nullptr);

  f.header["loom_version"] = "one.two";
  write_checkpoint(path("garbage.loom"), f);
  EXPECT_LOOM_ERROR(load_model(path("garbage.loom"), nullptr), "is not a version");
}

TEST_F(Saving, ArchitectureFromANewerMajorVersionIsRefused) {
  auto model = small_mlp("versioned", /*dropout=*/0.0);
  Json arch = model->to_architecture();
  EXPECT_EQ(arch.at("loom_version").as_string(), std::string(version()));
  EXPECT_NE(Model::from_architecture(arch), nullptr);
  arch["loom_version"] = fmt::format("{}.3.1", LOOM_VERSION_MAJOR + 2);
  EXPECT_LOOM_ERROR(Model::from_architecture(arch), "newer major version");
}

}  // namespace
}  // namespace loom
