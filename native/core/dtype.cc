#include "dtype.h"

#include "error.h"

namespace cr {

size_t dtypeSize(DType d) {
  switch (d) {
    case DType::Float32: return 4;
    case DType::Float16: return 2;
    case DType::BFloat16: return 2;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::UInt8: return 1;
  }
  return 0;
}

const char* dtypeName(DType d) {
  switch (d) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
  }
  return "?";
}

DType parseDType(const std::string& name) {
  for (DType d : {DType::Float32, DType::Float16, DType::BFloat16, DType::Int32, DType::Int64, DType::UInt8})
    if (name == dtypeName(d)) return d;
  CR_CHECK_TYPE(false, "unknown dtype '", name, "'");
}

const char* formatName(MemoryFormat f) {
  return f == MemoryFormat::ChannelsLast ? "channelsLast" : "contiguous";
}

MemoryFormat parseFormat(const std::string& name) {
  if (name == "contiguous") return MemoryFormat::Contiguous;
  if (name == "channelsLast") return MemoryFormat::ChannelsLast;
  CR_CHECK_TYPE(false, "unknown memory format '", name, "' (expected 'contiguous' or 'channelsLast')");
}

}  // namespace cr
