// Fuzzes the JSON parser (layers/saving/json.h) and the model architecture
// reader on top of it (Model::from_json). A parsed document must survive
// dump -> parse unchanged (compared as text, so NaN compares equal), and an
// architecture that loads must write itself back and load again.
#include <string>

#include "fuzz_util.h"

using loom::Json;

namespace {

void round_trip(const std::string& text) {
  const Json j = Json::parse(text, "fuzz");
  const std::string compact = j.dump();
  if (Json::parse(compact, "compact").dump() != compact) std::abort();
  if (Json::parse(j.dump(2), "indented").dump() != compact) std::abort();
  // The typed readers refuse what they cannot read with a loom::Error.
  loom_fuzz::expect_loom_errors_only([&] { j.to_numeric_array(); });
  loom_fuzz::expect_loom_errors_only([&] { j.to_int_vector(); });
  loom_fuzz::expect_loom_errors_only([&] { j.to_string_vector(); });
  if (j.is_object())
    for (const auto& [key, value] : j.items())
      if (j.find(key) == nullptr) std::abort();
}

void architecture(const std::string& text) {
  // An architecture may ask for any size of model: this caller, like any
  // reader of untrusted architectures, caps what building may allocate.
  loom::WeightBudget budget(64 << 20, "fuzz_json: the architecture");
  auto model = loom::Model::from_json(text);
  const std::string saved = model->to_json();
  if (loom::Model::from_json(saved)->to_json() != saved) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  loom_fuzz::expect_loom_errors_only([&] { round_trip(text); });
  // Architectures are objects with a "format" key; skip building for the rest.
  if (text.find("loom-architecture") != std::string::npos)
    loom_fuzz::expect_loom_errors_only([&] { architecture(text); });
  return 0;
}
