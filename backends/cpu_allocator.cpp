#include "backends/cpu_allocator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

namespace loom {
namespace {

// Blocks from 1 MiB up are cached, rounded to whole pages so that tensors of
// one shape map to one size; at most 1 GiB is kept.
constexpr size_t kCachedFrom = size_t{1} << 20;
constexpr size_t kPage = 4096;
constexpr size_t kMaxKept = size_t{1} << 30;

size_t block_size(size_t nbytes) {
  const size_t n = std::max<size_t>(nbytes, 1);
  return n >= kCachedFrom ? (n + kPage - 1) / kPage * kPage : (n + 63) / 64 * 64;
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free;  // size -> block
  size_t kept = 0;
};

// Never destroyed: tensors with static storage may be freed after any
// other static object.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

void* cpu_allocate(size_t nbytes) {
  const size_t size = block_size(nbytes);
  if (size >= kCachedFrom) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(size);
    if (it != c.free.end()) {
      void* p = it->second;
      c.free.erase(it);
      c.kept -= size;
      return p;
    }
  }
  return std::aligned_alloc(64, size);
}

void cpu_deallocate(void* p, size_t nbytes) {
  if (p == nullptr) return;
  const size_t size = block_size(nbytes);
  if (size >= kCachedFrom) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.kept + size <= kMaxKept) {
      c.free.emplace(size, p);
      c.kept += size;
      return;
    }
  }
  std::free(p);
}

size_t cpu_cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.kept;
}

void cpu_empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, p] : c.free) std::free(p);
  c.free.clear();
  c.kept = 0;
}

}  // namespace loom
