// What this machine offers: the CPU backend's settings and, for CUDA, availability or the
// exact reason it is unavailable.
import { native, type CpuBackendInfo, type CpuIsa, type CudaDeviceInfo, type LibraryInfo } from './binding.js';

export interface Backends {
  cpu: CpuBackendInfo;
  cuda: {
    /** The addon was built with its CUDA part (nvcc was found at build time). */
    compiled: boolean;
    available: boolean;
    /** Why CUDA cannot be used, when it cannot. */
    reason?: string;
    devices: CudaDeviceInfo[];
    runtimeVersion: number;
    driverVersion: number;
    /** cuDNN's version ("9.10.2"), null when it is not loaded. */
    cudnnVersion: string | null;
    /** cuBLAS's version, null when it is not loaded. */
    cublasVersion: string | null;
    /** Where cuDNN / cuBLAS were loaded from, or why they were not (absent without the CUDA part). */
    cudnn?: LibraryInfo;
    cublas?: LibraryInfo;
  };
}

export function backends(): Backends {
  const info = native.backends();
  const cuda = info.cuda;
  return { cpu: info.cpu, cuda: { ...cuda, cudnnVersion: cuda.cudnn?.version ?? null, cublasVersion: cuda.cublas?.version ?? null } };
}

let cudaStatus: { available: boolean; reason?: string } | null = null;

/**
 * Whether CUDA is usable here, and why not: asked of the addon once (device queries and library
 * loading are not repeated on every `to('cuda')`).
 */
export function cudaUsability(): { available: boolean; reason?: string } {
  if (cudaStatus === null) {
    const { available, reason } = native.backends().cuda;
    cudaStatus = available ? { available } : { available, reason: reason ?? 'unknown reason' };
  }
  return cudaStatus;
}

/** Threads used by CPU kernels (1 .. cores); returns the number in force. */
export function setNumThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  return native.setNumThreads(n);
}

/** Chooses the CPU GEMM: the built-in kernel or OpenBLAS (when libopenblas is installed). */
export function setGemmBackend(name: 'builtin' | 'openblas'): void {
  if (name !== 'builtin' && name !== 'openblas') throw new TypeError(`setGemmBackend: expected 'builtin' or 'openblas', got ${String(name)}`);
  native.setGemmBackend(name);
}

/**
 * Chooses the instruction set of every CPU kernel: 'portable' (plain C++, the reference),
 * 'avx2' (AVX2 + FMA) or 'avx512' (AVX-512 F/BW/DQ/VL). The best one the CPU runs is chosen at
 * load (CUDNN_RESNET_CPU_ISA forces one); asking for one the CPU lacks is a TypeError.
 */
export function setCpuIsa(isa: CpuIsa): void {
  if (isa !== 'portable' && isa !== 'avx2' && isa !== 'avx512') throw new TypeError(`setCpuIsa: expected 'portable', 'avx2' or 'avx512', got ${String(isa)}`);
  native.setCpuIsa(isa);
}
