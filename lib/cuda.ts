// rn.cuda: the GPU's memory counters and cache, synchronisation, the TF32 switch, and the fused
// convolution's plan cache.
import { native, type CudaMemory, type FusedConvPlans } from './binding.js';
import { cudaUsability } from './backends.js';

export type { CudaMemory, FusedConvPlans } from './binding.js';

/** True when a GPU answers and cuDNN and cuBLAS are loaded (rn.backends().cuda says why not). */
export function isAvailable(): boolean {
  return cudaUsability().available;
}

/**
 * The caching device allocator's counters: bytes in live tensors (allocatedBytes), bytes held
 * from the driver (reservedBytes = allocated + cached), the peak of allocatedBytes, and how many
 * allocations were served, from the cache or by cudaMalloc. All zero before the GPU is used.
 */
export function memory(): CudaMemory {
  return native.cudaMemory();
}

/** Returns the allocator's cached blocks to the driver (live tensors are untouched). */
export function emptyCache(): void {
  native.cudaEmptyCache();
}

/** Starts a new peak: peakAllocatedBytes becomes the bytes allocated now. */
export function resetPeakMemoryStats(): void {
  native.cudaResetPeakMemoryStats();
}

/** Waits until all queued GPU work is done (for timing; results never need it). */
export function synchronize(): void {
  if (isAvailable()) native.cudaSynchronize();
}

/**
 * TF32 tensor-core math for float32 convolutions and matmul: faster, with a 10-bit mantissa in
 * the products. Off by default, so that float32 on the GPU matches float32 on the CPU.
 */
export function setAllowTf32(allow: boolean): void {
  if (typeof allow !== 'boolean') throw new TypeError(`setAllowTf32: expected a boolean, got ${typeof allow}`);
  native.setAllowTf32(allow);
}
export function allowTf32(): boolean {
  return native.allowTf32();
}

/**
 * Which kernels run batch norm in training (and its fused residual tails) on the GPU: the
 * project's fused single-pass kernels ('fused', the default; CUDNN_RESNET_BN=cudnn changes the
 * default) or cuDNN's batch-norm API ('cudnn'). Evaluation mode always uses cuDNN.
 */
export function setBatchNormKernels(kind: 'fused' | 'cudnn'): void {
  if (kind !== 'fused' && kind !== 'cudnn') throw new TypeError(`setBatchNormKernels: expected 'fused' or 'cudnn', got ${String(kind)}`);
  native.setBatchNormKernels(kind);
}
export function batchNormKernels(): 'fused' | 'cudnn' {
  return native.batchNormKernels();
}

/** Only deterministic cuDNN convolution algorithms (bit-identical reruns), at some cost in speed. */
export function setDeterministic(on: boolean): void {
  if (typeof on !== 'boolean') throw new TypeError(`setDeterministic: expected a boolean, got ${typeof on}`);
  native.setDeterministic(on);
}

/**
 * The cache of cuDNN execution plans behind the fused convBnStats op on the GPU (internal: lib/ops/conv_bn_stats.ts, not in rn.* until
 * measured on a GPU): how many configurations have a
 * plan, how many no engine runs (those take the composition of existing ops), how many calls ran a
 * cached plan, and why the latest unsupported configuration was. All zero before any fused call.
 */
export function fusedConvPlans(): FusedConvPlans {
  return native.fusedConvPlans();
}

export { CudaGraph, isCapturing } from './cuda_graph.js';
