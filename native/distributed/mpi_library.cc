// The loader of libmpi.so.40 (what is looked for in mpi_library.h) and CR_MPI_CHECK.
#include "mpi_library.h"

#include <dlfcn.h>

#include <cstdio>

#include <mutex>
#include <vector>

#include "../core/error.h"

namespace cr::mpi {
namespace {

Api& table() {
  static Api& api = *new Api;
  return api;
}

std::vector<std::string> bindSymbols(void* library) {
  Api resolved;
  std::vector<std::string> missing;
#define CR_MPI_BIND_FUNCTION(name, ret, params)                                     \
  resolved.name = reinterpret_cast<ret(*) params>(dlsym(library, #name));          \
  if (resolved.name == nullptr) missing.emplace_back(#name);
  CR_MPI_FUNCTIONS(CR_MPI_BIND_FUNCTION)
#undef CR_MPI_BIND_FUNCTION
#define CR_MPI_BIND_OBJECT(symbol, type)                           \
  resolved.symbol = reinterpret_cast<type>(dlsym(library, #symbol)); \
  if (resolved.symbol == nullptr) missing.emplace_back(#symbol);
  CR_MPI_OBJECTS(CR_MPI_BIND_OBJECT)
#undef CR_MPI_BIND_OBJECT
  if (missing.empty()) table() = resolved;
  return missing;
}

void unbindSymbols() { table() = Api{}; }

// The first line of MPI_Get_library_version: "Open MPI v4.1.4, package: ..." gives "4.1.4".
std::string checkVersion(void* /*library*/, const std::string& path, LibraryInfo& info) {
  char text[MPI_MAX_LIBRARY_VERSION_STRING + 1] = {0};
  int length = 0;
  if (table().MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "MPI_Get_library_version failed for " + path;
  std::string line(text, static_cast<size_t>(length > 0 ? length : 0));
  line = line.substr(0, line.find_first_of(",\n"));
  const size_t v = line.find(" v");
  if (line.rfind("Open MPI", 0) != 0 || v == std::string::npos) {
    return "the MPI library at " + path + " is not Open MPI ('" + line + "'): this build declares Open MPI's ABI";
  }
  info.version = line.substr(v + 2);
  int major = 0, minor = 0, patch = 0;
  std::sscanf(info.version.c_str(), "%d.%d.%d", &major, &minor, &patch);
  info.versionNumber = int64_t{major} * 10000 + minor * 100 + patch;
  if (major < 4) return "Open MPI " + info.version + " at " + path + " is too old: Open MPI 4 or newer is required";
  return "";
}

LibrarySpec mpiSpec() {
  LibrarySpec spec;
  spec.title = "Open MPI";
  spec.soname = "libmpi.so.40";
  spec.envVariable = "CUDNN_RESNET_MPI_PATH";
  // Open MPI's components (dlopened plugins) resolve libmpi's symbols from the global scope.
  spec.global = true;
  spec.bind = bindSymbols;
  spec.unbind = unbindSymbols;
  spec.checkVersion = checkVersion;
  return spec;
}

}  // namespace

const LibraryInfo& mpiLibrary() {
  static std::once_flag once;
  static LibraryInfo& info = *new LibraryInfo;
  std::call_once(once, [] { info = loadLibrary(mpiSpec()); });
  return info;
}

const Api& api() {
  const LibraryInfo& info = mpiLibrary();
  CR_CHECK(info.loaded, "MPI is not available: ", info.reason);
  return table();
}

void checkMpi(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  std::string details = "error " + std::to_string(code);
  if (mpiLibrary().loaded) {
    char text[MPI_MAX_ERROR_STRING + 1] = {0};
    int length = 0;
    if (table().MPI_Error_string(code, text, &length) == MPI_SUCCESS && length > 0) {
      details = std::string(text, static_cast<size_t>(length)) + ", " + details;
    }
  }
  ::cr::detail::fail(ErrorKind::Generic, file, line, call, " failed: ", details);
}

}  // namespace cr::mpi
