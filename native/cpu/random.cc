#include "random.h"

#include <cmath>

#include "../core/parallel.h"

namespace cr {
namespace {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1): 53 random bits, never exactly 0.
inline double uniformAt(uint64_t seed, uint64_t i) {
  uint64_t bits = splitmix64(seed ^ splitmix64(i)) >> 11;
  return (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
}

}  // namespace

Tensor randomUniform(const Shape& shape, uint64_t seed, double low, double high) {
  Tensor out = empty(shape);
  float* o = out.f32();
  parallelFor(0, out.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = static_cast<float>(low + (high - low) * uniformAt(seed, i));
  });
  return out;
}

Tensor randomNormal(const Shape& shape, uint64_t seed, double mean, double stddev) {
  Tensor out = empty(shape);
  float* o = out.f32();
  parallelFor(0, out.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {  // Box-Muller on the pair (2 * (i / 2), +1)
      uint64_t pair = static_cast<uint64_t>(i) / 2;
      double r = std::sqrt(-2.0 * std::log(uniformAt(seed, 2 * pair)));
      double theta = 2.0 * M_PI * uniformAt(seed, 2 * pair + 1);
      double z = (i % 2 == 0) ? r * std::cos(theta) : r * std::sin(theta);
      o[i] = static_cast<float>(mean + stddev * z);
    }
  });
  return out;
}

}  // namespace cr
