// SplitMix64's step (Steele, Lea and Flood 2014): add the golden-ratio
// increment, then a bijective 64-bit mix. Seeding and shuffling code derives
// independent streams from it; its output is fixed by its definition, so a
// seed gives the same numbers on every platform and standard library.
#pragma once

#include <cstdint>

namespace loom {

constexpr uint64_t kSplitMix64Increment = 0x9e3779b97f4a7c15ULL;

// The mix of x + increment: the value a SplitMix64 generator in state x returns.
constexpr uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + kSplitMix64Increment;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace loom
