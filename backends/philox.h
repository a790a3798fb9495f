// Philox4x32-10 (Salmon et al., SC'11): a counter-based generator, so the
// random number for element i depends only on (seed, i). Every backend uses
// it for dropout masks, which is what makes masks identical across backends.
#pragma once

#include <cstdint>

// The same code runs in CUDA kernels (backends/cuda/cuda_kernels.cu).
#ifdef __CUDACC__
#define LOOM_HOST_DEVICE __host__ __device__
#else
#define LOOM_HOST_DEVICE
#endif

namespace loom {

struct Philox4x32 {
  // Four 32-bit random words for counter `ctr` under key `seed`.
  LOOM_HOST_DEVICE static inline void block(uint64_t seed, uint64_t ctr, uint32_t out[4]) {
    uint32_t c0 = static_cast<uint32_t>(ctr), c1 = static_cast<uint32_t>(ctr >> 32), c2 = 0,
             c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      uint64_t p0 = uint64_t{0xD2511F53u} * c0;
      uint64_t p1 = uint64_t{0xCD9E8D57u} * c2;
      uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
      uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
      c1 = static_cast<uint32_t>(p1);
      c3 = static_cast<uint32_t>(p0);
      c0 = n0;
      c2 = n2;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  }
  // Uniform in [0, 1) for element index i (four elements share one block).
  LOOM_HOST_DEVICE static inline double uniform(uint64_t seed, uint64_t i) {
    uint32_t r[4];
    block(seed, i >> 2, r);
    return (r[i & 3] >> 8) * (1.0 / 16777216.0);  // 24 bits: exact in f32 too
  }
};

}  // namespace loom
