// The layer-type registry and ConfigReader.
#include "loom/layers/layer_factory.h"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace loom {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, LayerFactory> factories;
};

Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry;
    register_builtin_layers(reg->factories);
    return reg;
  }();
  return *r;
}

}  // namespace

void register_layer_type(const std::string& type_name, LayerFactory factory) {
  LOOM_CHECK(!type_name.empty(), "register_layer_type: empty type name");
  LOOM_CHECK(static_cast<bool>(factory), "register_layer_type('{}'): empty factory", type_name);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[type_name] = std::move(factory);
}

bool is_layer_type_registered(const std::string& type_name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.factories.count(type_name) > 0;
}

std::vector<std::string> registered_layer_types() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> out;
  for (auto& [k, v] : r.factories) out.push_back(k);
  return out;
}

LayerPtr make_layer(const std::string& type_name, const Config& config, const std::string& name) {
  LayerFactory f;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(type_name);
    if (it == r.factories.end()) {
      std::vector<std::string> known;
      for (auto& [k, v] : r.factories) known.push_back(k);
      fail("make_layer: unknown layer type '{}' (for layer '{}'); registered types are {}",
           type_name, name, fmt::join(known, ", "));
    }
    f = it->second;
  }
  LayerPtr layer = f(config, name);
  LOOM_CHECK(layer != nullptr, "make_layer: the factory for '{}' returned no layer", type_name);
  return layer;
}

// ---- ConfigReader -------------------------------------------------------------------

std::string config_value_str(const ConfigValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return "'" + x + "'";
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
          return fmt::format("[{}]", fmt::join(x, ", "));
        else return fmt::format("{}", x);
      },
      v);
}

ConfigReader::ConfigReader(const Config& config, std::string type_name, std::string name)
    : config_(config), type_name_(std::move(type_name)), name_(std::move(name)) {}

const ConfigValue* ConfigReader::find(const std::string& key) const {
  auto it = config_.find(key);
  if (it == config_.end()) return nullptr;
  read_.push_back(key);
  return &it->second;
}

void ConfigReader::wrong_type(const std::string& key, const char* wanted) const {
  fail("{} '{}': config entry '{}' should be {}, got {}", type_name_, name_, key, wanted,
       config_value_str(config_.at(key)));
}

int64_t ConfigReader::get_int(const std::string& key, int64_t fallback) const {
  const ConfigValue* v = find(key);
  if (!v) return fallback;
  if (auto* i = std::get_if<int64_t>(v)) return *i;
  if (auto* d = std::get_if<double>(v))
    if (*d == std::floor(*d) && std::abs(*d) < 9.0e15) return static_cast<int64_t>(*d);
  if (auto* b = std::get_if<bool>(v)) return *b ? 1 : 0;
  wrong_type(key, "an integer");
}

double ConfigReader::get_double(const std::string& key, double fallback) const {
  const ConfigValue* v = find(key);
  if (!v) return fallback;
  if (auto* d = std::get_if<double>(v)) return *d;
  if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  wrong_type(key, "a number");
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) const {
  const ConfigValue* v = find(key);
  if (!v) return fallback;
  if (auto* b = std::get_if<bool>(v)) return *b;
  if (auto* i = std::get_if<int64_t>(v))
    if (*i == 0 || *i == 1) return *i == 1;
  wrong_type(key, "a boolean");
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback) const {
  const ConfigValue* v = find(key);
  if (!v) return fallback;
  if (auto* s = std::get_if<std::string>(v)) return *s;
  wrong_type(key, "a string");
}

std::vector<int64_t> ConfigReader::get_ints(const std::string& key,
                                            const std::vector<int64_t>& fallback) const {
  const ConfigValue* v = find(key);
  if (!v) return fallback;
  if (auto* s = std::get_if<std::vector<int64_t>>(v)) return *s;
  wrong_type(key, "a list of integers");
}

int64_t ConfigReader::require_int(const std::string& key) const {
  LOOM_CHECK(config_.count(key), "{} '{}': the config lacks '{}'", type_name_, name_, key);
  return get_int(key, 0);
}

void ConfigReader::finish() const {
  std::vector<std::string> unknown;
  for (auto& [k, v] : config_)
    if (std::find(read_.begin(), read_.end(), k) == read_.end()) unknown.push_back(k);
  LOOM_CHECK(unknown.empty(), "{} '{}': unknown config entries {}", type_name_, name_,
             fmt::join(unknown, ", "));
}

}  // namespace loom
