// What the CPU offers and which instruction set the CPU kernels use. One binary holds the
// portable, AVX2/FMA and AVX-512 kernels (compiled with per-function target attributes, never
// -march=native); at load the CPU is asked with cpuid, and xgetbv confirms that the operating
// system saves the ymm (AVX) and zmm + mask (AVX-512) registers on a context switch. The best
// supported instruction set is chosen unless CUDNN_RESNET_CPU_ISA=portable|avx2|avx512 forces one
// (the older CUDNN_RESNET_GEMM_ISA=portable still means portable). Forcing an instruction set the
// CPU lacks is an error when the addon loads (initCpuIsa), never a crash in a kernel.
#pragma once
#include <string>
#include <vector>

namespace cr {

// Ordered: each level includes the one below it.
//   Avx2   = AVX2 + FMA (+ F16C), OS saves ymm
//   Avx512 = Avx2 + AVX-512 F/BW/DQ/VL, OS saves zmm and the mask registers
enum class CpuIsa { Portable = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool osSavesYmm = false, osSavesZmm = false;  // from xgetbv (XCR0)
  std::string vendor;                            // "AuthenticAMD", "GenuineIntel", ...
};

// Read once (cpuid + xgetbv), all false off x86-64.
const CpuFeatures& cpuFeatures();
// The names of the instruction-set extensions found and usable ("avx2", "fma", "avx512f", ...).
std::vector<std::string> cpuFeatureNames();
// Whether this build and this CPU (and its operating system) can run the instruction set.
bool cpuIsaSupported(CpuIsa isa);
// The instruction sets cpuIsaSupported allows, lowest first.
std::vector<CpuIsa> cpuIsasAvailable();
// The instruction set every CPU kernel uses now.
CpuIsa cpuIsa();
// Selects it; throws TypeError naming what the CPU lacks when it cannot run it.
void setCpuIsa(CpuIsa isa);
// "portable", "avx2", "avx512".
const char* cpuIsaName(CpuIsa isa);
// Parses one of those names; throws TypeError naming the accepted values otherwise.
CpuIsa parseCpuIsa(const std::string& name, const char* what);
// Applies CUDNN_RESNET_CPU_ISA (or the older CUDNN_RESNET_GEMM_ISA=portable) once, at load;
// throws TypeError when the value is unknown or the CPU cannot run it.
void initCpuIsa();

}  // namespace cr
