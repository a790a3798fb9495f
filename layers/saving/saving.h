// Loom checkpoints: a versioned binary file holding a JSON header (model
// architecture, compile and optimizer configs, user metadata), named tensors
// (weights, optimizer state) and named byte blobs, each section with a
// CRC-32 and the whole file with another. The byte layout is specified in
// docs/CHECKPOINT_FORMAT.md.
//
// Writes are atomic: a temporary file in the target's directory is written,
// fsync'ed and renamed over the target, so a crash leaves either the old
// file or the new one, never half of one. Reads check everything and throw
// loom::Error naming the file and the problem (bad magic, another format
// version, truncation with expected and actual sizes, checksum mismatches).
//
//   save_model(model, "sentiment.loom", extras);          // = model.save(path) + extras
//   auto model = load_model("sentiment.loom", &extras);    // extras.string_list("vocabulary")
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loom/autograd/tensor.h"
#include "loom/layers/saving/json.h"

namespace loom {

class Model;

constexpr uint32_t kCheckpointFormatVersion = 1;

// CRC-32 (IEEE 802.3, the zlib / PNG / Python binascii.crc32 one); pass the
// previous value to continue over several buffers.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

// ---- the file as data ------------------------------------------------------------------

struct CheckpointTensor {
  std::string group;  // "weights", "optimizer", or anything a user chooses
  std::string name;   // "dense/kernel", "adam/m/dense/kernel", ...
  Tensor value;
};

struct CheckpointFile {
  Json header = Json::object();         // any JSON object
  std::vector<CheckpointTensor> tensors;  // in file order
  std::map<std::string, std::string> blobs;  // raw bytes by name

  // The tensor of `group` named `name`, or null.
  const CheckpointTensor* find(const std::string& group, const std::string& name) const;
  std::vector<const CheckpointTensor*> group(const std::string& group) const;
};

// Writes atomically (temp file + fsync + rename). Tensors must be on the
// CPU; names and groups must be unique pairs of at most 65535 bytes.
void write_checkpoint(const std::string& path, const CheckpointFile& file);
// Reads and verifies a whole file.
CheckpointFile read_checkpoint(const std::string& path);

// ---- user extras stored with a model ----------------------------------------------------

// Anything an application wants to keep next to the model: JSON metadata
// (in the header, readable with any JSON tool once extracted) and named
// blobs (e.g. a vocabulary).
struct CheckpointExtras {
  Json metadata = Json::object();
  std::map<std::string, std::string> blobs;

  // A list of strings as a blob (length-prefixed, so any bytes are allowed).
  void set_string_list(const std::string& name, const std::vector<std::string>& items);
  // Throws naming the blob when absent or malformed.
  std::vector<std::string> string_list(const std::string& name) const;
  bool has_blob(const std::string& name) const { return blobs.count(name) > 0; }
};

// ---- models ----------------------------------------------------------------------------------

// Architecture + weights + compile config + optimizer config and state
// (Model::save is save_model without extras).
void save_model(const Model& model, const std::string& path, const CheckpointExtras& extras = {});
// Weights only (Model::save_weights is this without extras).
void save_model_weights(const Model& model, const std::string& path,
                        const CheckpointExtras& extras = {});
// Restores weights by parameter name into `model` (Model::load_weights):
// every parameter of the model must be in the file with the same shape and
// dtype; extra entries in the file are an error too (both name the
// parameter and the shapes). Nothing is changed when it throws.
void load_model_weights(Model& model, const std::string& path);
// Rebuilds a model saved by save_model: architecture, weights, then compile
// and optimizer state, so fit() continues exactly where it stopped.
std::shared_ptr<Model> load_model(const std::string& path, CheckpointExtras* extras);
// The extras of any Loom checkpoint (model or weights).
CheckpointExtras read_checkpoint_extras(const std::string& path);

// save_model's file as data, for writers that add their own tensors or
// blobs before write_checkpoint (fit's backups, layers/training/backup.h).
CheckpointFile model_checkpoint(const Model& model, const std::string& path,
                                const CheckpointExtras& extras = {});
// Puts a model checkpoint's weights and optimizer state into `model` (built
// and compiled with the same architecture and optimizer). Everything is
// checked before anything changes; throws naming `path` and the mismatch.
void restore_model_state(Model& model, const CheckpointFile& file, const std::string& path);

// Refuses a file written by a newer major version of Loom than this one
// (an error naming `what`, the writer's version and this one's); older and
// same-major files pass. written_by is the file's "loom_version".
void check_loom_version(const std::string& written_by, const std::string& what);

}  // namespace loom
