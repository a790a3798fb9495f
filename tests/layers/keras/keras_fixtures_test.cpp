// Every fixture Keras wrote (tests/layers/keras/gen/gen_fixtures.py): Loom
// loads the model file and predicts what Keras predicted for the same
// inputs; weights-only files load into the loaded model and give Keras's
// second predictions; a model Loom writes back (.keras and .h5) loads in
// Loom again with the same predictions.
//
// With LOOM_KERAS_EXPORT_DIR set, the written files are kept there for
// gen/check_keras_loads.py, which loads them in Keras itself
// (keras_roundtrip_test.sh runs both).
//
// Error measure: max |loom - keras| / max(max |keras|, 1e-6) per output,
// at most 1e-5 (float32 arithmetic summed in another order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "loom/layers/keras/keras_io.h"
#include "loom/layers/saving/json.h"

namespace loom {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = LOOM_KERAS_FIXTURES_DIR;
constexpr double kTolerance = 1e-5;

// Every fixture, or those with a weights-only file.
std::vector<std::string> fixture_cases(bool with_weights_file = false) {
  std::vector<std::string> cases;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    if (e.path().extension() != ".json") continue;
    if (with_weights_file && !Json::parse_file(e.path().string()).contains("weights_file")) continue;
    cases.push_back(e.path().stem().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::vector<Tensor> fixture_inputs(const Json& fixture, const KerasModel& k) {
  std::vector<Tensor> inputs;
  for (const Json& in : fixture.at("inputs").elements()) {
    const std::string dtype = in.get_string("dtype");
    const Shape shape = in.at("shape").to_int_vector();
    if (dtype == "string") {
      EXPECT_TRUE(k.vectorizer.has_value()) << "string inputs but no vectorizer";
      inputs.push_back(k.vectorizer->encode_batch(in.at("data").to_string_vector()));
    } else if (dtype == "int32") {
      std::vector<int32_t> v;
      for (int64_t x : in.at("data").to_int_vector()) v.push_back(static_cast<int32_t>(x));
      inputs.push_back(Tensor::from_vector(v, shape));
    } else {
      std::vector<float> v;
      for (const Json& x : in.at("data").elements()) v.push_back(static_cast<float>(x.as_number()));
      inputs.push_back(Tensor::from_vector(v, shape));
    }
  }
  return inputs;
}

// Largest error of `got` against the expected outputs (see the top).
void expect_outputs(const std::vector<Tensor>& got, const Json& expected, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what << ": number of outputs";
  for (size_t i = 0; i < got.size(); ++i) {
    const Json& e = expected.at(i);
    ASSERT_EQ(got[i].shape(), Shape(e.at("shape").to_int_vector())) << what << ": output " << i;
    const std::vector<double> g = got[i].to(DType::f64).to_vector<double>();
    double scale = 1e-6, diff = 0;
    const Json::Array& data = e.at("data").elements();
    ASSERT_EQ(g.size(), data.size());
    for (size_t j = 0; j < g.size(); ++j) {
      scale = std::max(scale, std::abs(data[j].as_number()));
      diff = std::max(diff, std::abs(g[j] - data[j].as_number()));
    }
    EXPECT_LE(diff / scale, kTolerance) << what << ": output " << i << " max abs error " << diff;
  }
}

class KerasFixture : public ::testing::TestWithParam<std::string> {
 protected:
  Json fixture() const { return Json::parse_file((kFixtures / (GetParam() + ".json")).string()); }
};

TEST_P(KerasFixture, LoadsAndPredictsAsKeras) {
  const Json f = fixture();
  KerasModel k = load_keras((kFixtures / f.get_string("file")).string());
  expect_outputs(k.model->predict(fixture_inputs(f, k), 64), f.at("outputs"), "loaded model");
}

class KerasWeightsFixture : public KerasFixture {};

TEST_P(KerasWeightsFixture, WeightsOnlyFileLoadsIntoTheModel) {
  const Json f = fixture();
  KerasModel k = load_keras((kFixtures / f.get_string("file")).string());
  load_keras_weights(*k.model, (kFixtures / f.get_string("weights_file")).string());
  expect_outputs(k.model->predict(fixture_inputs(f, k), 64), f.at("weights_outputs"),
                 "after load_keras_weights");
}

TEST_P(KerasFixture, WrittenBackLoadsWithTheSamePredictions) {
  const Json f = fixture();
  KerasModel k = load_keras((kFixtures / f.get_string("file")).string());
  const char* keep = std::getenv("LOOM_KERAS_EXPORT_DIR");
  const fs::path dir = keep ? fs::path(keep) : fs::temp_directory_path() / "loom_keras_roundtrip";
  fs::create_directories(dir);
  std::vector<std::string> files{GetParam() + ".keras"};
  if (!k.vectorizer) files.push_back(GetParam() + ".h5");
  for (const std::string& name : files) {
    const std::string path = (dir / name).string();
    save_keras(*k.model, path, k.vectorizer ? &*k.vectorizer : nullptr);
    KerasModel back = load_keras(path);
    expect_outputs(back.model->predict(fixture_inputs(f, back), 64), f.at("outputs"), name);
    if (!keep) fs::remove(path);
  }
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasFixture, ::testing::ValuesIn(fixture_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, KerasWeightsFixture, ::testing::ValuesIn(fixture_cases(true)),
                         case_name);

}  // namespace
}  // namespace loom
