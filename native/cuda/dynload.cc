// The run-time loader of cuDNN 9 and cuBLAS 13 (search order and rules in dynload.h), the
// version checks, and the status checks behind CR_CUDNN_CHECK / CR_CUBLAS_CHECK.
#include "dynload.h"

#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <utility>

#include <cuda_runtime_api.h>

#include "../core/error.h"

namespace cr::cuda {
namespace {

// ---- Files and folders ----

bool isFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool isFolder(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string parentOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string realPath(const std::string& path) {
  char buffer[PATH_MAX];
  return realpath(path.c_str(), buffer) != nullptr ? std::string(buffer) : path;
}

std::string envOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::vector<std::string> globFolders(const std::string& pattern) {
  std::vector<std::string> folders;
  glob_t matches{};
  if (glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) folders.emplace_back(matches.gl_pathv[i]);
  }
  globfree(&matches);
  return folders;
}

std::vector<std::string> splitPathList(const std::string& list) {
  std::vector<std::string> parts;
  std::stringstream stream(list);
  std::string part;
  while (std::getline(stream, part, ':')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// Every Python site-packages folder on this machine that pip wheels may have been installed in,
// in search order, each once.
std::vector<std::string> pythonSitePackages() {
  std::vector<std::string> patterns;
  for (const std::string& entry : splitPathList(envOrEmpty("PYTHONPATH"))) patterns.push_back(entry);
  for (const char* prefixVariable : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    std::string prefix = envOrEmpty(prefixVariable);
    if (!prefix.empty()) patterns.push_back(prefix + "/lib/python3.*/site-packages");
  }
  // Beside every python3 on PATH: its prefix is the folder above its bin/ (taken both for the
  // path as found and for the file it links to, e.g. /usr/bin/python3 -> /usr/bin/python3.11).
  for (const std::string& folder : splitPathList(envOrEmpty("PATH"))) {
    std::string python = folder + "/python3";
    if (access(python.c_str(), X_OK) != 0) continue;
    for (const std::string& path : {python, realPath(python)}) {
      std::string prefix = parentOf(parentOf(path));
      for (const char* lib : {"/lib", "/lib64"}) {
        patterns.push_back(prefix + lib + "/python3.*/site-packages");
        patterns.push_back(prefix + lib + "/python3.*/dist-packages");
      }
    }
  }
  std::string home = envOrEmpty("HOME");
  std::string pyenvRoot = envOrEmpty("PYENV_ROOT");
  if (pyenvRoot.empty() && !home.empty()) pyenvRoot = home + "/.pyenv";
  if (!pyenvRoot.empty()) patterns.push_back(pyenvRoot + "/versions/*/lib/python3.*/site-packages");
  patterns.push_back("/usr/local/lib/python3.*/dist-packages");
  patterns.push_back("/usr/local/lib/python3.*/site-packages");
  patterns.push_back("/usr/lib/python3/dist-packages");
  patterns.push_back("/usr/lib/python3.*/site-packages");
  if (!home.empty()) patterns.push_back(home + "/.local/lib/python3.*/site-packages");

  std::vector<std::string> folders;
  std::set<std::string> seen;
  for (const std::string& pattern : patterns) {
    for (const std::string& folder : globFolders(pattern)) {
      if (seen.insert(realPath(folder)).second) folders.push_back(folder);
    }
  }
  return folders;
}

// ---- Loading one candidate ----

// What is looked for, and how a loaded copy is checked.
struct LibrarySpec {
  const char* title;                          // "cuDNN"
  const char* soname;                         // "libcudnn.so.9"
  const char* envVariable;                    // "CUDNN_RESNET_CUDNN_PATH"
  std::vector<const char*> companions;        // loaded first (RTLD_GLOBAL), from the same folder
  std::vector<const char*> loaderCompanions;  // loaded first (RTLD_GLOBAL) when using the loader path
  std::vector<const char*> wheelFolders;      // relative to a site-packages folder
  std::vector<std::string> (*bind)(void* library);
  void (*unbind)();
  // Reads the version into info; returns "" when acceptable, else the exact reason.
  std::string (*checkVersion)(void* library, const std::string& path, LibraryInfo& info);
};

struct Attempt {
  bool loaded = false;
  bool found = false;  // a library was there (even if unusable)
  std::string note;    // what happened, for the list of places looked at
};

std::string loadedPath(void* library, const std::string& fallback) {
  struct link_map* map = nullptr;
  if (dlinfo(library, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr &&
      map->l_name[0] != '\0') {
    return map->l_name;
  }
  return fallback;
}

std::string dlerrorText() {
  const char* text = dlerror();
  return text != nullptr ? std::string(text) : std::string("unknown error");
}

std::string listNames(const std::vector<std::string>& names) {
  std::string text;
  const size_t shown = names.size() < 5 ? names.size() : 5;
  for (size_t i = 0; i < shown; ++i) text += (i > 0 ? ", " : "") + names[i];
  if (names.size() > shown) text += " and " + std::to_string(names.size() - shown) + " more";
  return text;
}

// Tries one copy: `target` is a path (companions come from its folder) or, for the loader path,
// the bare soname (loader companions are tried first).
Attempt tryLoad(const LibrarySpec& spec, const std::string& target, bool viaLoader, LibraryInfo& info) {
  Attempt attempt;
  std::vector<void*> companions;
  auto closeCompanions = [&companions] {
    for (void* companion : companions) dlclose(companion);
    companions.clear();
  };
  if (viaLoader) {
    for (const char* name : spec.loaderCompanions) {
      if (void* companion = dlopen(name, RTLD_NOW | RTLD_GLOBAL)) companions.push_back(companion);
    }
  } else {
    if (!isFile(target)) {
      attempt.note = std::string("no ") + spec.soname;
      return attempt;
    }
    const std::string folder = parentOf(target);
    for (const char* name : spec.companions) {
      const std::string path = folder + "/" + name;
      if (!isFile(path) || path == target) continue;
      if (void* companion = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) companions.push_back(companion);
    }
  }

  dlerror();
  void* library = dlopen(target.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const std::string error = dlerrorText();
    closeCompanions();
    attempt.found = !viaLoader;
    attempt.note = viaLoader ? "dlopen: " + error
                             : std::string(spec.soname) + " at " + target + " could not be loaded: " + error;
    return attempt;
  }
  attempt.found = true;
  const std::string path = loadedPath(library, target);

  const std::vector<std::string> missing = spec.bind(library);
  if (!missing.empty()) {
    dlclose(library);
    closeCompanions();
    attempt.note = std::string(spec.soname) + " at " + path + " lacks symbol" + (missing.size() > 1 ? "s " : " ") +
                   listNames(missing);
    return attempt;
  }
  const std::string versionProblem = spec.checkVersion(library, path, info);
  if (!versionProblem.empty()) {
    info.builtForCuda.clear();  // the refused copy's: its reason says it
    spec.unbind();
    dlclose(library);
    closeCompanions();
    attempt.note = versionProblem;
    return attempt;
  }
  // Loaded for the life of the process: the library and its companions are never closed.
  info.loaded = true;
  info.path = path;
  attempt.loaded = true;
  attempt.note = "loaded " + info.version;
  return attempt;
}

// ---- The search ----

LibraryInfo search(const LibrarySpec& spec) {
  LibraryInfo info;
  std::vector<std::pair<std::string, std::string>> places;  // (place, what was found there)
  std::string firstUnusable;  // the exact reason of the first copy found but not usable
  auto note = [&places](const std::string& place, const std::string& outcome) { places.emplace_back(place, outcome); };
  auto record = [&](const std::string& place, const Attempt& attempt) {
    note(place, attempt.note);
    if (attempt.found && !attempt.loaded && firstUnusable.empty()) firstUnusable = attempt.note;
    return attempt.loaded;
  };
  // The reason is one sentence; the places looked in, each with what was found there, are listed
  // in info.searched (rn.backends().cuda.cudnn.searched).
  auto finish = [&] {
    for (const auto& [place, outcome] : places) info.searched.push_back(place + " (" + outcome + ")");
    if (info.loaded) return info;
    const std::string looked = "in the " + std::to_string(places.size()) + " places looked in (listed in searched; $" +
                               spec.envVariable + " may name the library file or its folder)";
    info.reason = firstUnusable.empty() ? std::string(spec.soname) + " not found " + looked
                                        : firstUnusable + "; no usable " + spec.soname + " was found " + looked;
    return info;
  };

  // 1. The environment variable: a file, or a folder holding the library.
  const std::string envName = std::string("$") + spec.envVariable;
  const std::string explicitPath = envOrEmpty(spec.envVariable);
  const std::string envPlace = envName + "=" + explicitPath;
  if (explicitPath.empty()) {
    note(envName, "unset");
  } else if (isFolder(explicitPath)) {
    if (record(envPlace, tryLoad(spec, explicitPath + "/" + spec.soname, false, info))) return finish();
  } else if (isFile(explicitPath)) {
    if (record(envPlace, tryLoad(spec, explicitPath, false, info))) return finish();
  } else {
    note(envPlace, "no such file or folder");
  }

  // 2. The normal loader path.
  if (record("the loader path", tryLoad(spec, spec.soname, true, info))) return finish();

  // 3. The folders of NVIDIA's pip wheels in Python site-packages.
  const std::vector<std::string> sites = pythonSitePackages();
  for (const std::string& site : sites) {
    std::string absent;  // the wheel folders this site-packages folder does not have
    for (const char* wheelFolder : spec.wheelFolders) {
      const std::string folder = site + "/" + wheelFolder;
      if (!isFolder(folder)) {
        absent += std::string(absent.empty() ? "no " : ", no ") + wheelFolder;
        continue;
      }
      if (record(folder, tryLoad(spec, folder + "/" + spec.soname, false, info))) return finish();
    }
    if (!absent.empty()) note(site, absent);
  }
  if (sites.empty()) note("Python site-packages", "none found");
  return finish();
}

// The search, never throwing.
LibraryInfo load(const LibrarySpec& spec) {
  try {
    return search(spec);
  } catch (const std::exception& e) {
    LibraryInfo info;
    info.reason = std::string(spec.title) + " could not be loaded: " + e.what();
    return info;
  }
}

// ---- cuDNN ----

// cuDNN 9 reports MAJOR * 10000 + MINOR * 100 + PATCH; cuDNN 8 and older MAJOR * 1000 + ....
void decodeCudnnVersion(size_t number, LibraryInfo& info) {
  const size_t major = number >= 10000 ? number / 10000 : number / 1000;
  const size_t minor = number >= 10000 ? number / 100 % 100 : number / 100 % 10;
  const size_t patch = number % 100;
  info.version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  info.versionNumber = static_cast<int64_t>(major * 10000 + minor * 100 + patch);
}

// "12.8" for a CUDA version number 12080 (MAJOR * 1000 + MINOR * 10).
std::string cudaVersionText(int number) { return std::to_string(number / 1000) + "." + std::to_string(number % 1000 / 10); }

std::string checkCudnnVersion(void* library, const std::string& path, LibraryInfo& info) {
  auto getVersion = reinterpret_cast<size_t (*)()>(dlsym(library, "cudnnGetVersion"));
  decodeCudnnVersion(getVersion(), info);
  const int64_t major = info.versionNumber / 10000;
  if (major < 9) return "cuDNN " + info.version + " at " + path + " is too old: cuDNN 9 is required";
  if (major > 9) return "cuDNN " + info.version + " at " + path + " is newer than this build supports: cuDNN 9 is required";
  // A cuDNN 9 built for another CUDA major (cuDNN ships one build per CUDA major) loads, but its
  // sub-libraries fail at the first convolution: refuse it here, saying what was found.
  auto getCudart = reinterpret_cast<size_t (*)()>(dlsym(library, "cudnnGetCudartVersion"));
  int runtime = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) {
    cudaGetLastError();
    info.builtForCuda = cudaVersionText(static_cast<int>(getCudart()));
    return "";
  }
  const auto built = static_cast<int>(getCudart());
  info.builtForCuda = cudaVersionText(built);
  return cudartMismatch(info.version, path, built, runtime);
}

LibrarySpec cudnnSpec() {
  LibrarySpec spec;
  spec.title = "cuDNN";
  spec.soname = "libcudnn.so.9";
  spec.envVariable = "CUDNN_RESNET_CUDNN_PATH";
  // cuDNN 9's sub-libraries, in dependency order: libcudnn.so.9 is a shim that loads them.
  spec.companions = {"libcudnn_graph.so.9",
                     "libcudnn_engines_precompiled.so.9",
                     "libcudnn_engines_runtime_compiled.so.9",
                     "libcudnn_heuristic.so.9",
                     "libcudnn_ops.so.9",
                     "libcudnn_cnn.so.9",
                     "libcudnn_adv.so.9"};
  spec.wheelFolders = {"nvidia/cudnn/lib", "nvidia/cu13/lib"};
  spec.bind = detail::bindCudnnSymbols;
  spec.unbind = detail::unbindCudnnSymbols;
  spec.checkVersion = checkCudnnVersion;
  return spec;
}

// ---- cuBLAS ----

std::string checkCublasVersion(void* library, const std::string& path, LibraryInfo& info) {
  using GetProperty = blas::cublasStatus_t (*)(libraryPropertyType, int*);
  auto getProperty = reinterpret_cast<GetProperty>(dlsym(library, "cublasGetProperty"));
  int major = 0, minor = 0, patch = 0;
  if (getProperty(MAJOR_VERSION, &major) != blas::CUBLAS_STATUS_SUCCESS ||
      getProperty(MINOR_VERSION, &minor) != blas::CUBLAS_STATUS_SUCCESS ||
      getProperty(PATCH_LEVEL, &patch) != blas::CUBLAS_STATUS_SUCCESS) {
    return "cublasGetProperty failed for " + path;
  }
  info.version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  info.versionNumber = int64_t{major} * 10000 + minor * 100 + patch;
  if (major < 13) return "cuBLAS " + info.version + " at " + path + " is too old: cuBLAS 13 or newer is required";
  return "";
}

LibrarySpec cublasSpec() {
  LibrarySpec spec;
  spec.title = "cuBLAS";
  spec.soname = "libcublas.so.13";
  spec.envVariable = "CUDNN_RESNET_CUBLAS_PATH";
  spec.companions = {"libcublasLt.so.13"};
  spec.loaderCompanions = {"libcublasLt.so.13"};
  spec.wheelFolders = {"nvidia/cu13/lib", "nvidia/cublas/lib"};
  spec.bind = detail::bindCublasSymbols;
  spec.unbind = detail::unbindCublasSymbols;
  spec.checkVersion = checkCublasVersion;
  return spec;
}

std::string describe(const char* title, const LibraryInfo& info) {
  std::string text = std::string(title) + ": ";
  text += info.loaded ? info.version + " loaded from " + info.path : "not loaded: " + info.reason;
  text += "\n";
  for (const std::string& place : info.searched) text += "  looked in " + place + "\n";
  return text;
}

}  // namespace

std::string cudartMismatch(const std::string& cudnnVersion, const std::string& path, int builtFor, int runtime) {
  if (builtFor / 1000 == runtime / 1000) return "";
  return "cuDNN " + cudnnVersion + " at " + path + " is built for CUDA " + cudaVersionText(builtFor) +
         ", but this addon runs the CUDA " + cudaVersionText(runtime) + " runtime: a cuDNN 9 built for CUDA " +
         std::to_string(runtime / 1000) + " is required (pip: nvidia-cudnn-cu" + std::to_string(runtime / 1000) + ")";
}

// The results live as long as the process (never destroyed, so a call made while other static
// objects are being destroyed still finds them).
const LibraryInfo& cublasLibrary() {
  static std::once_flag once;
  static LibraryInfo& info = *new LibraryInfo;
  std::call_once(once, [] { info = load(cublasSpec()); });
  return info;
}

const LibraryInfo& cudnnLibrary() {
  static std::once_flag once;
  static LibraryInfo& info = *new LibraryInfo;
  std::call_once(once, [] {
    // cuDNN's engines use cuBLASLt: with cuBLAS (and cuBLASLt) loaded first, cuDNN's
    // sub-libraries find them already in the process. cuBLAS is optional here.
    cublasLibrary();
    info = load(cudnnSpec());
  });
  return info;
}

void requireCudnn() {
  const LibraryInfo& info = cudnnLibrary();
  CR_CHECK(info.loaded, "cuDNN is not available: ", info.reason);
}

void requireCublas() {
  const LibraryInfo& info = cublasLibrary();
  CR_CHECK(info.loaded, "cuBLAS is not available: ", info.reason);
}

std::string describeLibraries() { return describe("cuDNN", cudnnLibrary()) + describe("cuBLAS", cublasLibrary()); }

// ---- Status names and checks ----

std::string cudnnStatusName(dnn::cudnnStatus_t status) {
  switch (status) {
#define CR_DNN_STATUS_CASE(name, value) \
  case dnn::name:                       \
    return #name;
    CR_CUDNN_STATUS_VALUES(CR_DNN_STATUS_CASE)
    CR_CUDNN_STATUS_VALUES_SINCE_9_18(CR_DNN_STATUS_CASE)
#undef CR_DNN_STATUS_CASE
    default:
      break;
  }
  // A code newer than this list: cuDNN 9 groups codes in categories of a thousand.
  const int code = static_cast<int>(status);
  const int category = code / 1000 * 1000;
  if (category >= 2000 && category <= 5000 && category != code) {
    return cudnnStatusName(static_cast<dnn::cudnnStatus_t>(category)) + " sub-code " + std::to_string(code);
  }
  return "cuDNN status " + std::to_string(code);
}

std::string cublasStatusName(blas::cublasStatus_t status) {
  switch (status) {
#define CR_BLAS_STATUS_CASE(name, value) \
  case blas::name:                       \
    return #name;
    CR_CUBLAS_STATUS_VALUES(CR_BLAS_STATUS_CASE)
#undef CR_BLAS_STATUS_CASE
    default:
      return "cuBLAS status " + std::to_string(static_cast<int>(status));
  }
}

void checkCudnn(dnn::cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == dnn::CUDNN_STATUS_SUCCESS) return;
  std::string details;
  if (cudnnLibrary().loaded) {
    const char* text = dnn::cudnnGetErrorString(status);
    if (text != nullptr) details = text;
    char last[2048] = {0};
    dnn::cudnnGetLastErrorString(last, sizeof(last));
    std::string lastText(last, strnlen(last, sizeof(last)));
    while (!lastText.empty() && (lastText.back() == '\n' || lastText.back() == ' ')) lastText.pop_back();
    if (!lastText.empty()) details += (details.empty() ? "" : "; ") + lastText;
  }
  ::cr::detail::fail(ErrorKind::Generic, file, line, call, " failed: ", cudnnStatusName(status),
                     details.empty() ? "" : " (" + details + ")");
}

void checkCublas(blas::cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == blas::CUBLAS_STATUS_SUCCESS) return;
  std::string details;
  if (cublasLibrary().loaded) {
    const char* text = blas::cublasGetStatusString(status);
    if (text != nullptr) details = text;
  }
  std::string name = cublasStatusName(status);
  if (name.rfind("CUBLAS_STATUS_", 0) != 0 && cublasLibrary().loaded) {
    const char* libraryName = blas::cublasGetStatusName(status);
    if (libraryName != nullptr) name = libraryName;
  }
  ::cr::detail::fail(ErrorKind::Generic, file, line, call, " failed: ", name, details.empty() ? "" : " (" + details + ")");
}

namespace detail {

void ensureCudnnCallable(const char* function) {
  const LibraryInfo& info = cudnnLibrary();
  CR_CHECK(info.loaded, function, " cannot be called: cuDNN is not available: ", info.reason);
}

void ensureCublasCallable(const char* function) {
  const LibraryInfo& info = cublasLibrary();
  CR_CHECK(info.loaded, function, " cannot be called: cuBLAS is not available: ", info.reason);
}

}  // namespace detail

}  // namespace cr::cuda
