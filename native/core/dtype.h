// Element types and memory formats of tensor storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace cr {

enum class DType : int32_t { Float32 = 0, Float16 = 1, BFloat16 = 2, Int32 = 3, Int64 = 4, UInt8 = 5 };
enum class MemoryFormat : int32_t { Contiguous = 0, ChannelsLast = 1 };
enum class Device : int32_t { CPU = 0, CUDA = 1 };

size_t dtypeSize(DType d);
const char* dtypeName(DType d);
// Parses 'float32' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8'; throws TypeError otherwise.
DType parseDType(const std::string& name);
const char* formatName(MemoryFormat f);
MemoryFormat parseFormat(const std::string& name);

// IEEE half and bfloat16 conversions, round to nearest even.
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);
inline uint16_t floatToBFloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bfloat16ToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace cr
