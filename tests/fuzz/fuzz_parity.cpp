// Fuzzes the parity-case reader of tests/parity/loom_parity.cpp
// (parity_case.h, format rnn-parity/1 in docs/PARITY_FORMAT.md): the JSON is
// parsed, the layer it describes is built, loaded, run forward and backward
// and compared. A case may fail its comparison; it must never crash.
#include <string>

#include "fuzz_util.h"
#include "parity_case.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  loom::set_cpu_backend("reference");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Both dtypes the runner offers; the input's length picks one.
  const loom::DType dtype = size % 2 ? loom::DType::f64 : loom::DType::f32;
  loom_fuzz::expect_loom_errors_only([&] {
    const loom::Json doc = loom::Json::parse(text, "case.json");
    loom_parity::run_case_json(doc, "case.json", dtype);
  });
  return 0;
}
