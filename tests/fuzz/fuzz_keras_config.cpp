// Fuzzes the Keras model-config reader (layers/keras/keras_config.h): the
// JSON of a .keras archive's config.json or an .h5 file's model_config,
// read as Keras 3 and as Keras 2. A config that imports and builds must
// export for both flavours and import and build again (the files around
// the config are HDF5 and zip, read by their own libraries).
#include <string>

#include "fuzz_util.h"
#include "loom/layers/keras/keras_config.h"

namespace {

using loom::keras::KerasFlavor;

std::shared_ptr<loom::Model> build(const loom::Json& config, KerasFlavor flavor) {
  const loom::keras::KerasImport in = loom::keras::import_keras_config(config, flavor, "fuzz");
  return loom::Model::from_architecture(in.architecture);
}

void read_config(const loom::Json& config, KerasFlavor flavor) {
  // A config may ask for any size of model: cap what building may allocate.
  loom::WeightBudget budget(64 << 20, "fuzz_keras_config: the model");
  auto model = build(config, flavor);
  if (!model->built()) return;
  for (KerasFlavor out : {KerasFlavor::keras3, KerasFlavor::keras2}) {
    loom::keras::KerasExport ex;
    bool exported = false;
    // Export may refuse what Keras cannot express (a Loom-only option).
    loom_fuzz::expect_loom_errors_only([&] {
      ex = loom::keras::export_keras_config(*model, out, nullptr);
      exported = true;
    });
    if (!exported) continue;
    // What Loom writes, Loom reads back as the same model.
    try {
      if (build(ex.config, out)->count_params() != model->count_params()) std::abort();
    } catch (...) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  loom_fuzz::init_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  loom_fuzz::expect_loom_errors_only([&] {
    const loom::Json config = loom::Json::parse(text, "fuzz");
    for (KerasFlavor flavor : {KerasFlavor::keras3, KerasFlavor::keras2})
      loom_fuzz::expect_loom_errors_only([&] { read_config(config, flavor); });
  });
  return 0;
}
