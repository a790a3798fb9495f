// An HDF5 file (Keras's .h5 models and the model.weights.h5 inside a .keras
// archive), through the HDF5 C library: just what reading and writing Keras
// weights needs. Built only with LOOM_WITH_HDF5.
//
//   H5File f = H5File::open("model.h5");
//   for (const auto& layer : f.read_string_list_attr("model_weights", "layer_names")) ...
//   Tensor k = f.read_dataset("model_weights/dense/dense/kernel:0");
//
// Paths are '/'-separated and relative to the root group ("" or "/" is the
// root). Every failure is a loom::Error naming the file and the object
// ("model.h5: dataset 'model_weights/dense/dense/kernel:0': ..."); HDF5's own
// error printing is switched off. A damaged or hostile file gives an error,
// never a crash, and a dataset may not claim far more bytes than the file
// stores for it (see read_dataset).
//
// One H5File may be used from several threads: Debian's libhdf5 is built
// thread-safe and serializes its calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"

namespace loom::keras {

class H5File {
 public:
  // Read-only, an existing file on disk.
  static H5File open(const std::string& path);
  // Read-only, a file image in memory (model.weights.h5 read from a zip);
  // `name` is used in errors ("model.keras:model.weights.h5").
  static H5File open_image(std::string bytes, std::string name);
  // A new file on disk (truncates one that exists).
  static H5File create(const std::string& path);
  // A new file in memory (no backing store); image() gives its bytes.
  static H5File create_image(std::string name);

  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();  // closes; never throws (call close() to see a failure)

  // Flushes and returns the bytes of the file (meant for create_image).
  std::string image();
  // Flushes (a created file) and closes; idempotent. Any other call after it throws.
  void close();
  const std::string& name() const { return name_; }

  // ---- reading -----------------------------------------------------------------
  // A group or dataset at `path`; false, not an error, when a parent is missing.
  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  // Link names in `group`, sorted by name.
  std::vector<std::string> children(const std::string& group) const;
  // float32 -> f32, float64 -> f64, int8/uint8/int16/uint16/int32 -> i32,
  // uint32/int64/uint64 -> i64 (a uint64 above INT64_MAX is an error); any
  // other type (float16, strings, compounds, ...) is an error naming it. A
  // scalar dataset gives a shape {} tensor. Refused before allocating: a
  // shape whose byte count overflows, more than kMaxDims axes, and more
  // bytes than the dataset's storage can hold (stored bytes x 1032, deflate's
  // largest ratio, + 1 MiB), as the checkpoint reader refuses a tensor
  // larger than its section.
  Tensor read_dataset(const std::string& path) const;
  Shape dataset_shape(const std::string& path) const;
  // `object` is a group or dataset path.
  bool has_attr(const std::string& object, const std::string& attr) const;
  // A string attribute, fixed-length (h5py's numpy bytes, NUL-padded or not)
  // or variable-length (h5py's str); scalar or a 1-element array.
  std::string read_string_attr(const std::string& object, const std::string& attr) const;
  // A 1-D array of fixed- or variable-length strings (Keras 2's layer_names
  // and weight_names are numpy 'S<n>' arrays). An empty array of any type
  // (h5py stores an empty list as float64 shape (0,)) gives {}.
  std::vector<std::string> read_string_list_attr(const std::string& object, const std::string& attr) const;

  // ---- writing -------------------------------------------------------------------
  // Creates the group and its missing parents; no-op when it exists.
  void create_group(const std::string& path);
  // A new dataset (little-endian float32/float64/int32/int64, contiguous)
  // from a CPU tensor of any rank, scalars included; creates parent groups.
  void write_dataset(const std::string& path, const Tensor& t);
  // Replaces or creates a scalar string attribute: fixed-length NUL-padded
  // ASCII (numpy bytes) or, with `variable_length`, variable-length UTF-8
  // (h5py str). A value may not contain NUL.
  void write_string_attr(const std::string& object, const std::string& attr, const std::string& value,
                         bool variable_length);
  // Replaces or creates a 1-D fixed-length string array as h5py writes
  // numpy 'S<longest>'; an empty list as h5py writes np.array([]): float64,
  // shape (0,).
  void write_string_list_attr(const std::string& object, const std::string& attr,
                              const std::vector<std::string>& values);

 private:
  H5File(int64_t id, std::string name) : id_(id), name_(std::move(name)) {}
  int64_t file_id() const;  // the open file's hid_t; throws after close()

  int64_t id_ = -1;  // hid_t (int64_t since HDF5 1.10), kept out of this header
  std::string name_;
};

}  // namespace loom::keras
