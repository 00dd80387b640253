// The function attributes that compile one function for an instruction set of cpu_features.h,
// in a binary built for the x86-64 baseline (never -march=native). A function carrying one runs
// only where cpuIsa() (or cpuFeatures(), for BF16) says the CPU and the OS support it.
//   CR_TARGET_AVX2        CpuIsa::Avx2:   AVX2 + FMA
//   CR_TARGET_AVX512      CpuIsa::Avx512: AVX-512 F/BW/DQ/VL, with AVX2 + FMA
//   CR_TARGET_AVX512_BF16 CpuIsa::Avx512 and AVX-512 BF16 (vdpbf16ps, vcvtne2ps2bf16)
#pragma once

#if defined(__x86_64__)
#define CR_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define CR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#define CR_TARGET_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")))
#endif
