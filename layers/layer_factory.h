// Rebuilding layers by type name, for loading saved models.
//
//   LayerPtr l = make_layer("Dense", {{"units", int64_t{4}}}, "dense_3");
//
// Every layer type registers a factory that turns config() back into an
// equivalent layer (same hyper-parameters; weights are loaded separately).
// Loom's own types are registered in register_builtin_layers()
// (layers/builtin_layers.cpp): one line per type, which also keeps each
// layer's object file linked into programs that only ever load models (a
// static registrar inside a static library would be dropped by the linker).
// Add new built-in types there; user code calls register_layer_type().
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "loom/layers/layer.h"

namespace loom {

using LayerFactory = std::function<LayerPtr(const Config& config, const std::string& name)>;

// Fills the registry with Loom's built-in types; the factory calls it once,
// on first use (defined in layers/builtin_layers.cpp, above every type).
void register_builtin_layers(std::map<std::string, LayerFactory>& factories);

// Registers (or replaces) the factory for `type_name` (Layer::type_name()).
void register_layer_type(const std::string& type_name, LayerFactory factory);
bool is_layer_type_registered(const std::string& type_name);
std::vector<std::string> registered_layer_types();  // sorted
// Throws loom::Error naming the type and listing the registered ones.
LayerPtr make_layer(const std::string& type_name, const Config& config, const std::string& name);

// Reads a Config with defaults, converting between int, double and bool the
// way a JSON round trip needs (3.0 reads as int 3, 1 reads as true), and
// names the layer in every error.
class ConfigReader {
 public:
  ConfigReader(const Config& config, std::string type_name, std::string name);
  bool has(const std::string& key) const { return config_.count(key) > 0; }
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& key, const std::vector<int64_t>& fallback) const;
  // Required keys (throw when absent).
  int64_t require_int(const std::string& key) const;
  // Throws naming any key that was never read (a typo or an unknown option).
  void finish() const;

 private:
  const ConfigValue* find(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const char* wanted) const;
  const Config& config_;
  std::string type_name_, name_;
  mutable std::vector<std::string> read_;
};

// The value of a Config entry as text, for summaries and messages.
std::string config_value_str(const ConfigValue& v);

}  // namespace loom
