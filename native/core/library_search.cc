// The library search behind loadLibrary (order and rules in library_search.h).
#include "library_search.h"

#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <utility>

namespace cr {
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

// ---- Loading one candidate ----

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
  void* library = dlopen(target.c_str(), RTLD_NOW | (spec.global ? RTLD_GLOBAL : RTLD_LOCAL));
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

}  // namespace

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

void setVersion(LibraryInfo& info, int64_t major, int64_t minor, int64_t patch) {
  info.version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  info.versionNumber = major * 10000 + minor * 100 + patch;
}

void setVersionFromCode(LibraryInfo& info, int64_t code) {
  const bool wide = code >= 10000;
  setVersion(info, wide ? code / 10000 : code / 1000, wide ? code / 100 % 100 : code / 100 % 10, code % 100);
}

LibraryInfo loadLibrary(const LibrarySpec& spec) {
  try {
    return search(spec);
  } catch (const std::exception& e) {
    LibraryInfo info;
    info.reason = std::string(spec.title) + " could not be loaded: " + e.what();
    return info;
  }
}


}  // namespace cr
