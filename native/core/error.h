// Errors raised by native code. The N-API layer turns each into a JS exception;
// nothing here ever aborts the process.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace cr {

// kind selects the JS error class: Error, TypeError or RangeError.
enum class ErrorKind { Generic, Type, Range };

struct Error : std::runtime_error {
  ErrorKind kind;
  Error(ErrorKind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, const char* file, int line, const Args&... args) {
  std::ostringstream os;
  append(os, args...);
  os << " (" << file << ":" << line << ")";
  throw Error(kind, os.str());
}
}  // namespace detail

}  // namespace cr

// CR_CHECK(cond, "conv2d: ", "message parts", ...) throws cr::Error when cond is false.
#define CR_CHECK(cond, ...) \
  do { if (!(cond)) ::cr::detail::fail(::cr::ErrorKind::Generic, __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define CR_CHECK_TYPE(cond, ...) \
  do { if (!(cond)) ::cr::detail::fail(::cr::ErrorKind::Type, __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define CR_CHECK_RANGE(cond, ...) \
  do { if (!(cond)) ::cr::detail::fail(::cr::ErrorKind::Range, __FILE__, __LINE__, __VA_ARGS__); } while (0)
