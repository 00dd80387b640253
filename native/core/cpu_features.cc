// cpuid + xgetbv feature detection and the process-wide instruction-set choice (cpu_features.h).
#include "cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "error.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace cr {
namespace {

#if defined(__x86_64__)
// XCR0 bits: 1 SSE, 2 AVX (ymm upper halves), 5 opmask, 6 zmm0-15 upper halves, 7 zmm16-31.
constexpr uint64_t kXcr0Ymm = (1u << 1) | (1u << 2);
constexpr uint64_t kXcr0Zmm = kXcr0Ymm | (1u << 5) | (1u << 6) | (1u << 7);

// xgetbv(0) without needing -mxsave on the whole file.
uint64_t readXcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
  const unsigned maxLeaf = eax;
  char vendor[13] = {};
  std::memcpy(vendor + 0, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  f.vendor = vendor;
  __get_cpuid(1, &eax, &ebx, &ecx, &edx);
  const bool osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
  f.fma = (ecx >> 12) & 1;
  f.f16c = (ecx >> 29) & 1;
  const uint64_t xcr0 = osxsave ? readXcr0() : 0;
  f.osSavesYmm = avx && (xcr0 & kXcr0Ymm) == kXcr0Ymm;
  f.osSavesZmm = f.osSavesYmm && (xcr0 & kXcr0Zmm) == kXcr0Zmm;
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const unsigned subLeaves = eax;
    f.avx2 = (ebx >> 5) & 1;
    f.avx512f = (ebx >> 16) & 1;
    f.avx512dq = (ebx >> 17) & 1;
    f.avx512bw = (ebx >> 30) & 1;
    f.avx512vl = (ebx >> 31) & 1;
    f.avx512vnni = (ecx >> 11) & 1;
    if (subLeaves >= 1) {
      __cpuid_count(7, 1, eax, ebx, ecx, edx);
      f.avx512bf16 = (eax >> 5) & 1;
    }
  }
  // A feature the operating system does not enable cannot be used.
  if (!f.osSavesYmm) f.avx2 = f.fma = f.f16c = false;
  if (!f.osSavesZmm) f.avx512f = f.avx512bw = f.avx512dq = f.avx512vl = f.avx512vnni = f.avx512bf16 = false;
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

CpuIsa best() {
  if (cpuIsaSupported(CpuIsa::Avx512)) return CpuIsa::Avx512;
  if (cpuIsaSupported(CpuIsa::Avx2)) return CpuIsa::Avx2;
  return CpuIsa::Portable;
}

std::atomic<CpuIsa>& isaState() {
  static std::atomic<CpuIsa> isa{best()};
  return isa;
}

// What the CPU lacks for an instruction set, for error messages.
std::string missing(CpuIsa isa) {
  const CpuFeatures& f = cpuFeatures();
  std::string out;
  auto need = [&](bool have, const char* name) {
    if (!have) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  need(f.osSavesYmm, "OS support for ymm registers (xgetbv)");
  need(f.avx2, "avx2");
  need(f.fma, "fma");
  if (isa == CpuIsa::Avx512) {
    need(f.osSavesZmm, "OS support for zmm registers (xgetbv)");
    need(f.avx512f, "avx512f");
    need(f.avx512bw, "avx512bw");
    need(f.avx512dq, "avx512dq");
    need(f.avx512vl, "avx512vl");
  }
  return out;
}

}  // namespace

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures features = detect();
  return features;
}

std::vector<std::string> cpuFeatureNames() {
  const CpuFeatures& f = cpuFeatures();
  std::vector<std::string> names;
  const std::pair<bool, const char*> all[] = {
      {f.avx2, "avx2"},         {f.fma, "fma"},           {f.f16c, "f16c"},           {f.avx512f, "avx512f"},
      {f.avx512bw, "avx512bw"}, {f.avx512dq, "avx512dq"}, {f.avx512vl, "avx512vl"},   {f.avx512vnni, "avx512vnni"},
      {f.avx512bf16, "avx512bf16"}};
  for (const auto& [have, name] : all)
    if (have) names.push_back(name);
  return names;
}

bool cpuIsaSupported(CpuIsa isa) {
  const CpuFeatures& f = cpuFeatures();
  switch (isa) {
    case CpuIsa::Portable:
      return true;
    case CpuIsa::Avx2:
      return f.avx2 && f.fma;
    case CpuIsa::Avx512:
      return f.avx2 && f.fma && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl;
  }
  return false;
}

std::vector<CpuIsa> cpuIsasAvailable() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::Portable, CpuIsa::Avx2, CpuIsa::Avx512})
    if (cpuIsaSupported(isa)) out.push_back(isa);
  return out;
}

CpuIsa cpuIsa() { return isaState().load(std::memory_order_relaxed); }

void setCpuIsa(CpuIsa isa) {
  CR_CHECK_TYPE(cpuIsaSupported(isa), "the CPU instruction set '", cpuIsaName(isa),
                "' cannot run on this CPU: it lacks ", missing(isa), ". Available: ", [] {
                  std::string names;
                  for (CpuIsa a : cpuIsasAvailable()) names += (names.empty() ? "" : ", ") + std::string(cpuIsaName(a));
                  return names;
                }());
  isaState().store(isa, std::memory_order_relaxed);
}

const char* cpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Portable:
      return "portable";
    case CpuIsa::Avx2:
      return "avx2";
    case CpuIsa::Avx512:
      return "avx512";
  }
  return "unknown";
}

CpuIsa parseCpuIsa(const std::string& name, const char* what) {
  for (CpuIsa isa : {CpuIsa::Portable, CpuIsa::Avx2, CpuIsa::Avx512})
    if (name == cpuIsaName(isa)) return isa;
  CR_CHECK_TYPE(false, what, " expects 'portable', 'avx2' or 'avx512', got '", name, "'");
  return CpuIsa::Portable;
}

void initCpuIsa() {
  if (const char* forced = std::getenv("CUDNN_RESNET_CPU_ISA"); forced && *forced) {
    try {
      setCpuIsa(parseCpuIsa(forced, "it"));
    } catch (const Error& e) {
      throw Error(ErrorKind::Type, std::string("CUDNN_RESNET_CPU_ISA=") + forced + ": " + e.what());
    }
    return;
  }
  if (const char* gemm = std::getenv("CUDNN_RESNET_GEMM_ISA"); gemm && std::strcmp(gemm, "portable") == 0)
    setCpuIsa(CpuIsa::Portable);
}

}  // namespace cr
