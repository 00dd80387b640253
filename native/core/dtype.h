// Element types and memory formats of tensor storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "float_bits.h"  // floatToHalf, halfToFloat, floatToBFloat16, bfloat16ToFloat

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

}  // namespace cr
