#include "loom/backends/cuda/cuda_allocator.h"

#include "loom/backends/cuda/cuda_check.h"

namespace loom::cuda {

size_t CachingAllocator::round_size(size_t n) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20, kSplit = size_t{1} << 20;
  if (n == 0) n = 1;  // empty tensors still get a valid pointer
  const size_t unit = n < kSplit ? kSmall : kLarge;
  return (n + unit - 1) / unit * unit;
}

CachingAllocator::~CachingAllocator() { empty_cache(); }

void* CachingAllocator::allocate(size_t nbytes) {
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    void* p = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
    stats_.in_use += size;
    stats_.peak = std::max(stats_.peak, stats_.in_use);
    return p;
  }
  const DeviceGuard guard(device_);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the sticky-free error state
    for (auto& [sz, blocks] : free_)
      for (void* b : blocks) cudaFree(b);
    free_.clear();
    stats_.cached = 0;
    e = cudaMalloc(&p, size);
  }
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    fail("CUDA out of memory on cuda:{}: cudaMalloc of {} bytes ({:.1f} MiB) failed ({}); "
         "{:.1f} MiB free of {:.1f} MiB, {:.1f} MiB held by Loom's tensors",
         device_, size, size / 1048576.0, cudaGetErrorString(e), free_bytes / 1048576.0,
         total / 1048576.0, stats_.in_use / 1048576.0);
  }
  ++stats_.device_allocations;
  stats_.in_use += size;
  stats_.peak = std::max(stats_.peak, stats_.in_use);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t nbytes) noexcept {
  if (!p) return;
  const size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  try {
    free_[size].push_back(p);
    stats_.cached += size;
  } catch (...) {
    cudaFree(p);  // no room to remember it: give it back
  }
  stats_.in_use -= size;
}

void CachingAllocator::empty_cache() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  int previous = -1;
  cudaGetDevice(&previous);
  cudaSetDevice(device_);
  for (auto& [size, blocks] : free_)
    for (void* b : blocks) cudaFree(b);
  free_.clear();
  stats_.cached = 0;
  if (previous >= 0) cudaSetDevice(previous);
}

CudaMemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace loom::cuda
