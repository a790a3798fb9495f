// The one place where backends are registered. Optional backends are added
// under their build flags; the reference backend is always present.
#include "backends/registry.h"

#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "backends/reference/reference_backend.h"

#ifdef LOOM_WITH_ONEDNN
#include "backends/onednn/onednn_backend.h"
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace loom {
namespace {

struct Registry {
  std::vector<std::unique_ptr<Backend>> cpu;  // the first is the reference
  Backend* cpu_current = nullptr;

  Registry() {
    cpu.push_back(std::make_unique<ReferenceBackend>());
#ifdef LOOM_WITH_ONEDNN
    // Its GEMM and fused RNN primitives make it the default CPU backend; the
    // reference stays available by name (LOOM_BACKEND=reference).
    cpu.push_back(make_onednn_backend());
#endif
    cpu_current = cpu.back().get();  // the last registered is the fastest
    if (const char* env = std::getenv("LOOM_BACKEND"); env && *env) select(env);
  }
  void select(const std::string& name) {
    for (auto& b : cpu)
      if (name == b->name()) {
        cpu_current = b.get();
        return;
      }
    std::vector<std::string> names;
    for (auto& b : cpu) names.emplace_back(b->name());
    fail("unknown CPU backend '{}'; this build has: {}", name, fmt::join(names, ", "));
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

int initial_threads() {
  if (const char* env = std::getenv("LOOM_NUM_THREADS"); env && *env) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

int& thread_count() {
  static int n = [] {
    int t = initial_threads();
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
    return t;
  }();
  return n;
}

}  // namespace

Backend& reference_backend() { return *registry().cpu.front(); }

Backend& backend_for(Device device) {
  thread_count();  // applies LOOM_NUM_THREADS before the first kernel runs
  if (device.kind == DeviceKind::cpu) return *registry().cpu_current;
  fail("no backend for device {}: this build of Loom has no CUDA support (LOOM_WITH_CUDA=OFF)",
       device.str());
}

std::vector<std::string> available_backends() {
  std::vector<std::string> names;
  for (auto& b : registry().cpu) names.emplace_back(b->name());
  return names;
}

void set_cpu_backend(const std::string& name) { registry().select(name); }
std::string cpu_backend_name() { return registry().cpu_current->name(); }

void set_num_threads(int n) {
  LOOM_CHECK(n > 0, "set_num_threads: expected a positive count, got {}", n);
  thread_count() = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int num_threads() { return thread_count(); }

}  // namespace loom
