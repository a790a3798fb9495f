#include "loom/layers/precision_policy.h"

#include <mutex>

namespace loom {

DTypePolicy DTypePolicy::parse(const std::string& name) {
  DTypePolicy p;
  p.name = name;
  if (name == "float32") p.compute = DType::f32;
  else if (name == "mixed_bfloat16") p.compute = DType::bf16;
  else if (name == "mixed_float16") p.compute = DType::f16;
  else
    fail("dtype policy '{}' is unknown (expected float32, mixed_bfloat16 or mixed_float16)", name);
  return p;
}

namespace {
std::mutex g_mu;
DTypePolicy g_policy;
}  // namespace

void set_global_policy(const std::string& name) {
  DTypePolicy p = DTypePolicy::parse(name);
  std::lock_guard<std::mutex> lock(g_mu);
  g_policy = std::move(p);
}

DTypePolicy global_policy() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_policy;
}

}  // namespace loom
