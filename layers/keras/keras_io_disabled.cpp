// keras_io.h in a build without LOOM_WITH_HDF5: every call says how to get it.
#include "loom/layers/keras/keras_io.h"

namespace loom {

namespace {
[[noreturn]] void no_keras_files(const std::string& path) {
  fail("{}: this Loom was built without Keras file support; rebuild with -DLOOM_WITH_HDF5=ON "
       "(needs libhdf5-dev and libzip-dev)",
       path);
}
}  // namespace

bool keras_files_supported() { return false; }
KerasModel load_keras(const std::string& path) { no_keras_files(path); }
void load_keras_weights(Model&, const std::string& path) { no_keras_files(path); }
void save_keras(const Model&, const std::string& path, const TextVectorization*) { no_keras_files(path); }

}  // namespace loom
