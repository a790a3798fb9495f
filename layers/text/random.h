// A small seeded generator for the text utilities (shuffles, splits, the
// synthetic corpus). Its output is fixed by its definition (SplitMix64 plus
// Lemire's bounded integers), so a seed gives the same data on every
// platform and standard library; std::shuffle and the std distributions are
// implementation-defined and would not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "loom/autograd/splitmix64.h"

namespace loom::text {

class TextRng {
 public:
  explicit TextRng(uint64_t seed) : state_(seed) {}

  // An independent stream for item `index` of a seeded sequence, so item i
  // does not depend on how many items come before it.
  static TextRng stream(uint64_t seed, uint64_t index) {
    TextRng mix(seed ^ 0x6a09e667f3bcc909ULL);
    uint64_t a = mix.next();
    TextRng mix2(a + index * kSplitMix64Increment);
    return TextRng(mix2.next());
  }

  uint64_t next() {
    const uint64_t z = splitmix64(state_);
    state_ += kSplitMix64Increment;
    return z;
  }

  // Uniform in [0, n), n > 0, without modulo bias.
  uint64_t below(uint64_t n) {
    uint64_t x = next();
    __uint128_t m = static_cast<__uint128_t>(x) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        x = next();
        m = static_cast<__uint128_t>(x) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi], inclusive.
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  bool chance(double p) { return uniform() < p; }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

  // Fisher-Yates.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

 private:
  uint64_t state_;
};

}  // namespace loom::text
