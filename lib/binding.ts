// The typed seam between TypeScript and the native addon. Everything the addon exports is
// declared here; nothing else in lib/ touches the addon directly except through `native`.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type DType = 'float32' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8';
export type MemoryFormat = 'contiguous' | 'channelsLast';
export type DeviceName = 'cpu' | 'cuda';
/** The typed array that carries a dtype's values across the boundary. */
export type TransportArray = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** One reference to native tensor storage. */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly format: MemoryFormat;
  readonly device: DeviceName;
  readonly disposed: boolean;
  readonly nbytes: number;
  dispose(): void;
  /** A second reference to the same storage. */
  alias(): NativeTensor;
}

type T = NativeTensor;
/** The op codes of native.binary (NumPy broadcasting); its only definition. */
export const BINARY = { add: 0, sub: 1, mul: 2, div: 3 } as const;
export type BinaryName = keyof typeof BINARY;
export type BinaryCode = (typeof BINARY)[BinaryName];
type Maybe = NativeTensor | null;
// Arguments that cross the seam by name (native/napi/ops.cc reads these fields; the C++ structs
// Conv2dParams, Pool2dParams, SgdOptions and AdamOptions have the same fields): no order to keep
// in step.
/** A convolution's geometry, [h, w] pairs. */
export interface ConvParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  /** Autocast bfloat16 on the CPU computed natively (operands, products and result in bfloat16; see CpuBackendInfo.bf16). */
  bf16Compute?: boolean;
}
/** A pooling window, [h, w] pairs. */
export interface PoolParams {
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
}
/**
 * One SGD update. lrTensor (float32, one element) replaces lr when given; skipIfNonzero (int32,
 * one element) skips the update when nonzero. Both are read when the update runs.
 */
export interface SgdStepOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  firstStep: boolean;
  lrTensor?: NativeTensor | null;
  skipIfNonzero?: NativeTensor | null;
}
/**
 * One Adam (decoupled false) or AdamW (true) update; step is its number (1 first).
 * skipIfNonzero (int32, one element) skips the update when nonzero.
 */
export interface AdamStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  step: number;
  skipIfNonzero?: NativeTensor | null;
}

/** The CPU kernels' instruction sets: portable C++, AVX2 + FMA, AVX-512 (F/BW/DQ/VL). */
export type CpuIsa = 'portable' | 'avx2' | 'avx512';
export interface CpuBackendInfo {
  threads: number;
  gemm: 'builtin' | 'openblas';
  /** The built-in GEMM's micro-kernel in use. */
  gemmIsa: 'avx512' | 'avx2-fma' | 'portable';
  /** The instruction set every CPU kernel uses now (chosen at load, CUDNN_RESNET_CPU_ISA, setCpuIsa). */
  isa: CpuIsa;
  /** The instruction sets this CPU and its operating system can run, lowest first. */
  isasAvailable: CpuIsa[];
  /** The CPU's usable extensions, from cpuid and xgetbv: 'avx2', 'fma', 'avx512f', 'avx512bf16', ... */
  features: string[];
  openblas: { available: boolean; info: string };
  /**
   * How autocast bfloat16 computes conv2d / linear / matmul on the CPU now: 'avx512-bf16' (vdpbf16ps,
   * float32 sums; the CPU has AVX-512 BF16 and the avx512 instruction set is in force) or
   * 'emulated' (operands rounded to bfloat16, float32 products; CUDNN_RESNET_BF16=emulated forces it).
   */
  bf16: 'avx512-bf16' | 'emulated';
}
export interface CudaDeviceInfo {
  name: string;
  computeCapability: string;
  totalMemory: number;
}
/** A run-time loaded library (cuDNN, cuBLAS): where it came from, or why it could not be loaded. */
export interface LibraryInfo {
  loaded: boolean;
  path?: string;
  version?: string;
  /** Why the library is not loaded, in one sentence. */
  reason?: string;
  /** cuDNN: the CUDA version the library was built for ('13.0', from cudnnGetCudartVersion). */
  builtForCuda?: string;
  /** Each place looked in, in search order, with what was found there ("the loader path (dlopen: ...)"). */
  searched: string[];
}
export interface CudaBackendInfo {
  compiled: boolean;
  available: boolean;
  reason?: string;
  runtimeVersion: number;
  driverVersion: number;
  devices: CudaDeviceInfo[];
  /** Present when the addon has its CUDA part. */
  cudnn?: LibraryInfo;
  cublas?: LibraryInfo;
}
export interface CudaMemory {
  allocatedBytes: number;
  reservedBytes: number;
  peakAllocatedBytes: number;
  allocations: number;
  cacheHits: number;
  deviceMallocs: number;
}
/** The fused convolution's cache of cuDNN execution plans (all zero without the CUDA part). */
export interface FusedConvPlans {
  /** Configurations with a cached execution plan. */
  plans: number;
  /** Configurations that no cuDNN engine runs (remembered: they take the composition at once). */
  unsupported: number;
  /** Calls that ran a cached plan. */
  hits: number;
  /** Why the latest unsupported configuration was ('' when none was). */
  lastReason: string;
  /**
   * The dtype of the fused prologue's intermediates in the plans built: 'float32' (tried first, as
   * NVIDIA's samples build the pattern), the data's dtype where only that finalized, both joined
   * by ' and ' when plans differ; '' before any plan.
   */
  intermediates: string;
}
/** The native memory counters (rn.memory()). */
export interface NativeMemory {
  /** Tensor handles alive (user tensors plus tensors the autograd tape keeps for backward). */
  liveTensors: number;
  /** Distinct native buffers alive (views share one). */
  liveStorages: number;
  /** Bytes of native memory held by live buffers, on every device (rn.cuda.memory() details the GPU's). */
  liveBytes: number;
  /** Highest liveBytes seen since the process started. */
  peakBytes: number;
  /** Freed CPU blocks the allocator keeps for reuse (not counted in liveBytes). */
  cachedBytes: number;
  /** NCHW <-> NHWC transposes of 4-D tensors so far, on every device (a channels-last model on the GPU makes none). */
  layoutConversions: number;
}

/** One (op, device) line of the native profiler's counts: calls and summed times since the last reset. */
export interface NativeProfileEntry {
  op: string;
  device: DeviceName;
  calls: number;
  hostMs: number;
  /** Present for ops on GPU tensors. */
  deviceMs?: number;
}

/** Where the launcher put this process (Open MPI's OMPI_COMM_WORLD_* variables; launched false outside mpirun). */
export interface NativeGroupInfo {
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
}
/** A collective queued on the communication thread (or on the CUDA stream). */
export type NativeWork = { readonly __work: unique symbol };
export interface NativeDistributed {
  backends(): { mpi: LibraryInfo & { searched: string[] }; nccl: LibraryInfo & { compiled: boolean; searched: string[] }; launcher: NativeGroupInfo & { launched: boolean }; initialized: boolean };
  /** Joins the group (blocks until every rank has, at most timeoutSeconds). */
  init(timeoutSeconds: number): NativeGroupInfo;
  finalize(): void;
  /** outputs[i] = reduce over ranks of inputs[i] (outputs may be the inputs). */
  allReduce(inputs: T[], outputs: T[], op: 'sum' | 'mean' | 'max' | 'min'): NativeWork;
  allReduceValues(values: Float64Array, op: 'sum' | 'mean' | 'max' | 'min'): NativeWork;
  broadcast(tensors: T[], root: number): NativeWork;
  broadcastBytes(bytes: Uint8Array, root: number): NativeWork;
  barrier(): NativeWork;
  /** Blocks until done; throws the collective's error. */
  wait(work: NativeWork): { seconds: number; values?: Float64Array; bytes?: Uint8Array };
  isDone(work: NativeWork): boolean;
}

export interface NativeBinding {
  fromArray(data: TransportArray, shape: number[], dtype: DType, format: MemoryFormat, device?: DeviceName): T;
  toArray(t: T): TransportArray;
  readAsync(t: T): Promise<TransportArray>;
  cast(t: T, dtype: DType): T;
  toFormat(t: T, format: MemoryFormat): T;
  clone(t: T): T;
  view(t: T, shape: number[]): T;
  copyInto(dst: T, src: T): void;
  toDevice(t: T, device: DeviceName): T;
  full(shape: number[], value: number, dtype: DType, device?: DeviceName): T;
  randomUniform(shape: number[], seed: bigint, low: number, high: number, device?: DeviceName): T;
  randomNormal(shape: number[], seed: bigint, mean: number, std: number, device?: DeviceName): T;

  conv2d(x: T, w: T, b: Maybe, p: ConvParams): T;
  conv2dBackward(dy: T, x: T, w: T, p: ConvParams, needs: [boolean, boolean, boolean]): [Maybe, Maybe, Maybe];
  /** [y, sum, sqSum], or why this device does not run the configuration (the CUDA op fuses float16 / bfloat16 channels-last data only). */
  convBnStats(x: T, w: T, scale: Maybe, bias: Maybe, relu: boolean, p: ConvParams): [T, T, T] | string;
  /** act(conv2d(x, w) + b + z), act = ReLU when relu: forward only (inference), one pass over the output. */
  convBiasAct(x: T, w: T, b: Maybe, z: Maybe, relu: boolean, p: ConvParams): T;
  batchNorm2d(x: T, w: Maybe, b: Maybe, rm: Maybe, rv: Maybe, training: boolean, momentum: number, eps: number): [T, T, T];
  batchNorm2dBackward(dy: T, x: T, w: Maybe, mean: T, invStd: T, training: boolean, needs: [boolean, boolean, boolean]): [Maybe, Maybe, Maybe];
  bnAddRelu(x: T, r: T, w: Maybe, b: Maybe, rm: Maybe, rv: Maybe, training: boolean, momentum: number, eps: number): [T, T, T];
  bnAddReluBackward(dy: T, y: T, x: T, w: Maybe, mean: T, invStd: T, training: boolean, needs: [boolean, boolean, boolean, boolean]): [Maybe, Maybe, Maybe, Maybe];
  bnRelu(x: T, w: Maybe, b: Maybe, rm: Maybe, rv: Maybe, training: boolean, momentum: number, eps: number): [T, T, T];
  bnReluBackward(dy: T, y: T, x: T, w: Maybe, mean: T, invStd: T, training: boolean, needs: [boolean, boolean, boolean]): [Maybe, Maybe, Maybe];
  maxPool2d(x: T, p: PoolParams): [T, T];
  maxPool2dBackward(dy: T, argmax: T, xShape: number[]): T;
  avgPool2d(x: T, p: PoolParams): T;
  avgPool2dBackward(dy: T, xShape: number[], p: PoolParams): T;
  adaptiveAvgPool2d(x: T, outH: number, outW: number): T;
  adaptiveAvgPool2dBackward(dy: T, xShape: number[]): T;
  /** op: BINARY.add, .sub, .mul or .div (NumPy broadcasting) */
  binary(op: BinaryCode, a: T, b: T): T;
  affine(x: T, scale: number, shift: number): T;
  relu(x: T): T;
  reluBackward(dy: T, y: T): T;
  sigmoid(x: T): T;
  sigmoidBackward(dy: T, y: T): T;
  broadcastTo(x: T, shape: number[]): T;
  sumTo(x: T, shape: number[]): T;
  sum(x: T, dims: number[], keepDim: boolean): T;
  concat(parts: T[], dim: number): T;
  narrow(x: T, dim: number, start: number, length: number): T;
  shortcutA(x: T, outChannels: number, stride: number): T;
  shortcutABackward(dy: T, xShape: number[], stride: number): T;
  /** bf16Compute: as ConvParams.bf16Compute (CPU only). */
  matmul(a: T, b: T, transA: boolean, transB: boolean, bf16Compute?: boolean): T;
  /** checkLabels: range-check labels on the GPU (a read-back); CPU labels are always checked. */
  crossEntropy(logits: T, labels: T, labelSmoothing: number, checkLabels: boolean): [T, T];
  /** grad: the loss's gradient, a one-element float32 tensor on the probs' device. */
  crossEntropyBackward(grad: T, probs: T, labels: T, labelSmoothing: number): T;
  /** counter += 1 in place (a one-element int32 / int64 tensor). */
  increment(counter: T): void;
  sgdStep(param: T, grad: T, momentumBuffer: Maybe, o: SgdStepOptions): void;
  /** sgdStep on many parameters (one launch per 64 on the GPU); buffers null when momentum is 0. */
  sgdStepMulti(params: T[], grads: T[], buffers: T[] | null, o: SgdStepOptions): void;
  /** Adam or AdamW in place on param and its two moment buffers. */
  adamStep(param: T, grad: T, expAvg: T, expAvgSq: T, o: AdamStepOptions): void;
  /** grads *= invScale in place; true when any element is infinite or NaN. */
  unscaleGrads(grads: T[], invScale: number): boolean;
  /** grads *= 1 / scale in place; found = 1 when any element is not finite (state tensors on the grads' device). */
  unscaleGradsBy(grads: T[], scale: T, growthTracker: T, found: T, skipped: T): void;
  /** The loss scaler's update on its state tensors: backoff (and skipped += 1) when found, growth after the interval; found = 0. */
  updateScaleState(scale: T, growthTracker: T, found: T, skipped: T, growthFactor: number, backoffFactor: number,
                   growthInterval: number): void;

  memory(): NativeMemory;
  emptyCache(): void;
  backends(): { cpu: CpuBackendInfo; cuda: CudaBackendInfo };
  cudaMemory(): CudaMemory;
  // The GPU's settings and controls, one function each, named as in rn.cuda (native/napi/cuda_control.cc).
  cudaEmptyCache(): void;
  cudaResetPeakMemoryStats(): void;
  cudaSynchronize(): void;
  setAllowTf32(allow: boolean): void;
  allowTf32(): boolean;
  setDeterministic(on: boolean): void;
  setBatchNormKernels(kind: 'fused' | 'cudnn'): void;
  batchNormKernels(): 'fused' | 'cudnn';
  fusedConvPlans(): FusedConvPlans;
  beginCapture(): number;
  endCapture(graph: number): void;
  abortCapture(graph: number): void;
  replayGraph(graph: number): void;
  destroyGraph(graph: number): void;
  /** Test-only: later cuDNN calls at the site return `status` (0 clears), to exercise the fallbacks. */
  forceCudnnStatus(site: 'addTensor' | 'backwardBias' | 'biasActivation', status: number): void;
  profiler(action: 'enable' | 'disable' | 'reset'): void;
  profiler(action: 'report'): { ops: NativeProfileEntry[]; skippedCalls: number };
  setNumThreads(n: number): number;
  setGemmBackend(name: 'builtin' | 'openblas'): void;
  distributed: NativeDistributed;
  setCpuIsa(isa: CpuIsa): void;
  /** Whether CpuBackendInfo.bf16 is 'avx512-bf16' now. */
  cpuBf16Native(): boolean;
}

/** The package root: one level above lib/ (sources) and dist/ (compiled). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(packageRoot) as NativeBinding;
  } catch (err) {
    // The addon loaded but refused the instruction set CUDNN_RESNET_CPU_ISA forces: that sentence as it is.
    if (err instanceof TypeError && err.message.startsWith('CUDNN_RESNET_CPU_ISA')) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cudnn-resnet: the native addon could not be loaded (${reason}). ` +
        `No prebuilt binary fits ${process.platform}-${process.arch} and none was compiled: build it with \`npm rebuild cudnn-resnet\` ` +
        '(`npm run build:native` in a checkout; needs CMake or node-gyp and a C++17 compiler), after `npm install-scripts approve ' +
        'cudnn-resnet` where npm 11\'s allowScripts policy denies or skips its install script.',
    );
  }
}

export const native: NativeBinding = load();
