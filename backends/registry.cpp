// The one place where backends are registered. Optional backends are added
// under their build flags; the reference backend is always present.
#include "loom/backends/registry.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "loom/backends/reference/reference_backend.h"

#ifdef LOOM_WITH_ONEDNN
#include "loom/backends/onednn/onednn_backend.h"
#endif

#ifdef LOOM_WITH_CUDA
#include "loom/backends/cuda/cuda_backend.h"
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define LOOM_HAS_MXCSR 1
#endif

namespace loom {
namespace {

struct Registry {
  std::vector<std::unique_ptr<Backend>> cpu;  // the first is the reference
  Backend* cpu_current = nullptr;
  // One CUDA backend per visible device, made on first use (creating one
  // starts a CUDA context, which a CPU-only program should never pay for).
  // Never destroyed: at exit the CUDA runtime may already be gone, and
  // freeing handles and memory then can crash (the driver reclaims them).
  std::mutex cuda_mu;
  std::vector<Backend*> cuda;

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

// Never destroyed: buffers and workspaces held by objects with static
// storage may be freed after any other static object, through their backend.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

int initial_threads() {
  if (const char* env = std::getenv("LOOM_NUM_THREADS"); env && *env) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

bool initial_flush_denormals() {
  const char* env = std::getenv("LOOM_FLUSH_DENORMALS");
  return !(env && std::string(env) == "0");
}

std::atomic<bool>& flush_denormals_flag() {
  static std::atomic<bool> on{initial_flush_denormals()};
  return on;
}

// MXCSR is per thread: set it in the caller and in every thread of the
// OpenMP pool that `threads` kernels will use (pool threads persist, and
// threads created later inherit the creator's floating-point environment).
void apply_denormal_mode(int threads) {
#ifdef LOOM_HAS_MXCSR
  constexpr unsigned kFtzDaz = 0x8040;  // flush-to-zero (bit 15), denormals-are-zero (bit 6)
  const bool on = flush_denormals_flag();
  auto apply = [on] { _mm_setcsr(on ? (_mm_getcsr() | kFtzDaz) : (_mm_getcsr() & ~kFtzDaz)); };
  apply();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  apply();
#else
  (void)threads;
#endif
#else
  (void)threads;
#endif
}

int& thread_count() {
  static int n = initial_threads();
  return n;
}

// OpenMP's thread count and MXCSR belong to each calling thread, so a
// setting made in one thread would not reach request threads. Every change
// bumps the generation; each thread re-applies the settings when it next
// asks for a backend and finds its copy out of date.
std::atomic<uint64_t> g_settings_generation{1};
std::mutex g_settings_mu;  // serializes changes (count and flag together)

void apply_settings_to_this_thread() {
  thread_local uint64_t applied = 0;
  const uint64_t now = g_settings_generation.load(std::memory_order_acquire);
  if (applied == now) return;
  int threads;
  {
    std::lock_guard<std::mutex> lock(g_settings_mu);
    threads = thread_count();
  }
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  apply_denormal_mode(threads);
  applied = now;
}

}  // namespace

Backend& reference_backend() { return *registry().cpu.front(); }

Backend& backend_for(Device device) {
  apply_settings_to_this_thread();  // before this thread's first kernel runs
  if (device.kind == DeviceKind::cpu) return *registry().cpu_current;
#ifdef LOOM_WITH_CUDA
  const int count = cuda_device_count();
  LOOM_CHECK(device.index >= 0 && device.index < count,
             "no backend for device {}: {}", device.str(),
             count == 0 ? std::string("no CUDA device is visible (no GPU, no driver, or "
                                      "CUDA_VISIBLE_DEVICES hides them)")
                        : fmt::format("this machine has {} CUDA device(s)", count));
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.cuda_mu);
  if (r.cuda.empty()) r.cuda.resize(count);
  if (!r.cuda[device.index]) r.cuda[device.index] = make_cuda_backend(device.index).release();
  return *r.cuda[device.index];
#else
  fail("no backend for device {}: this build of Loom has no CUDA support (configure with "
       "-DLOOM_WITH_CUDA=ON)",
       device.str());
#endif
}

int cuda_device_count() {
#ifdef LOOM_WITH_CUDA
  return cuda_visible_devices();
#else
  return 0;
#endif
}

bool cuda_built() {
#ifdef LOOM_WITH_CUDA
  return true;
#else
  return false;
#endif
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
  {
    std::lock_guard<std::mutex> lock(g_settings_mu);
    thread_count() = n;
    g_settings_generation.fetch_add(1, std::memory_order_acq_rel);
  }
  apply_settings_to_this_thread();
}

void apply_thread_settings() { apply_settings_to_this_thread(); }

int num_threads() {
  std::lock_guard<std::mutex> lock(g_settings_mu);
  return thread_count();
}

void set_flush_denormals(bool on) {
  {
    std::lock_guard<std::mutex> lock(g_settings_mu);
    flush_denormals_flag() = on;
    g_settings_generation.fetch_add(1, std::memory_order_acq_rel);
  }
  apply_settings_to_this_thread();
}

bool flush_denormals() {
#ifdef LOOM_HAS_MXCSR
  return flush_denormals_flag();
#else
  return false;
#endif
}

}  // namespace loom
