// Run-time loading of a shared library with dlopen, searched for in the places NVIDIA's and
// Python's packaging put them, and the report of where it came from or why it was not usable.
//
// The search order (the first usable copy wins):
//   1. the environment variable of the spec: the library file itself, or a folder that holds it;
//   2. the normal loader path: dlopen(soname);
//   3. the spec's wheel folders inside every Python site-packages folder found ($PYTHONPATH,
//      $VIRTUAL_ENV, $CONDA_PREFIX, beside each python3 on $PATH, pyenv, /usr/local/lib, /usr/lib,
//      ~/.local).
// A copy is usable when dlopen succeeds, spec.bind resolves every function and spec.checkVersion
// accepts it. Loading from a folder first loads the spec's companions from that same folder.
// Used by the cuDNN / cuBLAS loader (native/cuda/dynload.cc) and by MPI / NCCL (native/distributed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cr {

struct LibraryInfo {
  bool loaded = false;
  std::string path;                   // the file that was loaded
  std::string version;                // "9.10.2"
  int64_t versionNumber = 0;          // 91002 (major * 10000 + minor * 100 + patch)
  std::string builtForCuda;           // cuDNN: the CUDA version it was built for ("13.0"), once read
  std::string reason;                 // when not loaded: why, in one sentence
  std::vector<std::string> searched;  // each place looked at, with what was found there
};

// What is looked for, and how a loaded copy is checked.
struct LibrarySpec {
  const char* title;                          // "cuDNN"
  const char* soname;                         // "libcudnn.so.9"
  const char* envVariable;                    // "CUDNN_RESNET_CUDNN_PATH"
  std::vector<const char*> companions;        // loaded first (RTLD_GLOBAL), from the same folder
  std::vector<const char*> loaderCompanions;  // loaded first (RTLD_GLOBAL) when using the loader path
  std::vector<const char*> wheelFolders;      // relative to a site-packages folder
  bool global = false;                        // dlopen the library itself with RTLD_GLOBAL (its plugins need its symbols)
  std::vector<std::string> (*bind)(void* library);
  void (*unbind)();
  // Reads the version into info; returns "" when acceptable, else the exact reason.
  std::string (*checkVersion)(void* library, const std::string& path, LibraryInfo& info);
};

// Sets info.version ("9.10.2") and info.versionNumber (major * 10000 + minor * 100 + patch).
void setVersion(LibraryInfo& info, int64_t major, int64_t minor, int64_t patch);
// The same from an NVIDIA version code: MAJOR * 10000 + MINOR * 100 + PATCH (cuDNN 9, NCCL 2.9 and
// newer), or MAJOR * 1000 + MINOR * 100 + PATCH before them.
void setVersionFromCode(LibraryInfo& info, int64_t code);

// Searches for and loads the library of spec; never throws (a failure is described in reason).
// A loaded library stays loaded for the life of the process.
LibraryInfo loadLibrary(const LibrarySpec& spec);

// Every Python site-packages folder on this machine that pip wheels may have been installed in,
// in search order, each once.
std::vector<std::string> pythonSitePackages();

}  // namespace cr
