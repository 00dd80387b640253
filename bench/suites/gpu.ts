// gpu: ResNet training steps and inference on one CUDA GPU, ours against PyTorch on the same GPU.
//   - ResNet-50 training, float32, batch 64, 224x224 NCHW, TF32 off and TF32 on;
//   - ResNet-50 and ResNet-18 training with autocast bf16 and fp16 (GradScaler), batch 256,
//     channels-last;
//   - the same ResNet-50 / ResNet-18 AMP steps replayed from a CUDA graph (ours only; PyTorch eager
//     is the reference, as in the targets);
//   - CIFAR ResNet-56 training, batch 128, 32x32, float32 and autocast bf16 (and bf16 with a graph);
//   - ResNet-50 inference, batch 256, float32 NCHW and autocast bf16 channels-last; the same with
//     batch norm folded into the convolutions (ours: rn.nn.fuseForInference, each conv-BN-add-ReLU
//     one rn.convBiasAct; PyTorch eager unfolded) in bf16 and fp16; batch-1 latency, and ours
//     folded and replayed from a CUDA graph.
// One repetition is K iterations (10 training steps, 20 inference passes, 50 at batch 1) followed
// by a device synchronise on both sides; the table shows ms per repetition, img/s from
// batch * K / time, and each side's peak device memory (ours: rn.cuda.memory().peakAllocatedBytes,
// PyTorch: torch.cuda.max_memory_allocated(), both reset at the workload's setup).
// SGD as in cpu-train (lr 0.01, momentum 0.9, weight decay 1e-4); labels int64 and inputs created
// once, on the device. TF32 is off on both sides except where the name says tf32-on.
// Without CUDA the suite prints why and runs nothing.
import * as rn from '../../lib/index.js';
import { GraphedSteps } from '../../lib/train/graph_steps.js';
import type { Runner, Workload, WorkloadSpec } from '../harness.js';
import { requestCudaPeer } from '../peers/torch.js';
import { timed, type Suite } from './suite.js';

type TrainSpec = Extract<WorkloadSpec, { kind: 'gpu-train' }>;
type InferSpec = Extract<WorkloadSpec, { kind: 'gpu-infer' }>;
type Amp = 'bfloat16' | 'float16';

const SGD = { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 };
const TRAIN_STEPS = 10;
const INFER_STEPS = 20;
const LATENCY_STEPS = 50;

/** Throws, with rn.backends().cuda.reason, where CUDA cannot be used. */
function requireCuda(): void {
  const cuda = rn.backends().cuda;
  if (!cuda.available) throw new Error(`CUDA unavailable: ${cuda.reason ?? 'no reason given'}`);
}

// --- mixed precision ---------------------------------------------------------------------------
// The library's autocast and gradient scaler: rn.autocast({ dtype }, fn) runs fn with conv2d,
// linear and matmul in bfloat16 / float16, and rn.amp.GradScaler has PyTorch's scale(loss) /
// step(optimizer) / update(). They are looked up at run time, so that this suite runs on a build
// without them: our side of every autocast workload is then reported missing with the reason
// (the PyTorch side is still measured).

interface GradScalerLike {
  scale(loss: rn.Tensor): rn.Tensor;
  step(optimizer: rn.optim.SGD): void;
  update(): void;
  dispose?(): void;
  useDeviceState?(device: rn.Device): void;
}
interface MixedPrecision {
  /** Runs fn under autocast to the given dtype on CUDA. */
  autocast<T>(fn: () => T): T;
  /** A gradient scaler (fp16), or null (bf16 needs none). */
  scaler: GradScalerLike | null;
}

const MIXED_PRECISION_MISSING = 'mixed precision is not implemented yet';

function mixedPrecision(dtype: Amp): MixedPrecision {
  const api = rn as unknown as {
    autocast?: <T>(options: { dtype: Amp }, fn: () => T) => T;
    amp?: { GradScaler?: new () => GradScalerLike };
  };
  const autocast = api.autocast;
  if (typeof autocast !== 'function') throw new Error(MIXED_PRECISION_MISSING);
  let scaler: GradScalerLike | null = null;
  if (dtype === 'float16') {
    const GradScaler = api.amp?.GradScaler;
    if (typeof GradScaler !== 'function') throw new Error('the fp16 GradScaler is not implemented yet');
    scaler = new GradScaler();
  }
  return { autocast: (fn) => autocast({ dtype }, fn), scaler };
}

// --- our side ----------------------------------------------------------------------------------

function buildModel(model: TrainSpec['model'], numClasses: number): rn.nn.Module & { forward(x: rn.Tensor): rn.Tensor } {
  if (model === 'resnet18') return rn.models.resnet18({ numClasses });
  if (model === 'resnet50') return rn.models.resnet50({ numClasses });
  return rn.models.cifarResNet({ depth: 56, numClasses });
}

/** Frees what the previous workload left in the allocator's cache and starts a new peak. */
function freshDevice(tf32: boolean): void {
  rn.cuda.synchronize();
  rn.cuda.emptyCache();
  rn.cuda.resetPeakMemoryStats();
  rn.cuda.setAllowTf32(tf32);
}

function releaseDevice(tensors: (rn.Tensor | undefined)[], net: rn.nn.Module | undefined): void {
  for (const t of tensors) t?.dispose();
  net?.dispose();
  rn.cuda.synchronize();
  rn.cuda.emptyCache();
  rn.cuda.setAllowTf32(false);
}

/** Runs a setup; where it throws (out of memory ...), frees what it made first, so the peer keeps the GPU's memory. */
function guarded<T>(setup: (made: { tensors: rn.Tensor[]; net?: rn.nn.Module }) => T): T {
  const made: { tensors: rn.Tensor[]; net?: rn.nn.Module } = { tensors: [] };
  try {
    return setup(made);
  } catch (err) {
    try { releaseDevice(made.tensors, made.net); } catch { /* the setup's error is the one to report */ }
    throw err;
  }
}

function trainRunner(spec: TrainSpec): Runner {
  requireCuda();
  const mp = spec.amp === null ? null : mixedPrecision(spec.amp); // before anything is allocated
  freshDevice(spec.tf32);
  const memoryFormat: rn.MemoryFormat = spec.channelsLast ? 'channelsLast' : 'contiguous';
  const { net, x, labels } = guarded((made) => {
    const net = made.net = buildModel(spec.model, spec.numClasses); // held before it moves: a failed move is freed too
    net.to({ device: 'cuda', memoryFormat }).train();
    const x = rn.randn([spec.batch, 3, spec.size, spec.size], { device: 'cuda', memoryFormat });
    made.tensors.push(x);
    const labels = rn.tensor(Array.from({ length: spec.batch }, (_, i) => (i * 7919) % spec.numClasses), [spec.batch],
      { dtype: 'int64', device: 'cuda' });
    made.tensors.push(labels);
    return { net, x, labels };
  });
  const opt = new rn.optim.SGD(net.parameters(), { lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay });
  const body = (images: rn.Tensor, targets: rn.Tensor) => {
    opt.zeroGrad();
    const forwardLoss = () => {
      const logits = net.forward(images);
      // The labels are made valid above; the range check would make the host wait for the GPU.
      return { logits, loss: rn.crossEntropy(logits, targets, { checkLabels: false }) };
    };
    const out = mp ? mp.autocast(forwardLoss) : forwardLoss();
    if (mp?.scaler) {
      mp.scaler.scale(out.loss).backward();
      mp.scaler.step(opt);
      mp.scaler.update();
    } else {
      out.loss.backward();
      opt.step();
    }
    return out;
  };
  // The scaler's state stays on the GPU, so that a step reads nothing back (as the trainer does).
  if (mp?.scaler) {
    if (!mp.scaler.useDeviceState) throw new Error('the GradScaler cannot keep its state on the device');
    mp.scaler.useDeviceState('cuda');
  }
  // With a graph: each step copies the batch into the graph's inputs and replays (after two eager
  // warm-up steps and the capture, all within the first repetition).
  const graphed = spec.cudaGraph ? new GraphedSteps(body, spec.numClasses, 2) : null;
  const hostLabels = labels.toArray();
  const step = (): void => rn.scope(() => {
    if (graphed) graphed.run(x, labels, hostLabels);
    else body(x, labels);
  });
  return {
    run: () => {
      rn.cuda.setAllowTf32(spec.tf32);
      return timed(() => {
        for (let i = 0; i < spec.steps; i++) step();
        rn.cuda.synchronize();
      });
    },
    peakMemoryBytes: () => rn.cuda.memory().peakAllocatedBytes,
    dispose: () => {
      graphed?.dispose();
      mp?.scaler?.dispose?.();
      opt.dispose();
      releaseDevice([x, labels], net);
    },
  };
}

function inferRunner(spec: InferSpec): Runner {
  requireCuda();
  const mp = spec.amp === null ? null : mixedPrecision(spec.amp);
  freshDevice(spec.tf32);
  const memoryFormat: rn.MemoryFormat = spec.channelsLast ? 'channelsLast' : 'contiguous';
  const { net, x } = guarded((made) => {
    const net = made.net = buildModel(spec.model, 1000);
    net.to({ device: 'cuda', memoryFormat }).eval();
    if (spec.fuse) rn.nn.fuseForInference(net);
    const x = rn.randn([spec.batch, 3, spec.size, spec.size], { device: 'cuda', memoryFormat });
    made.tensors.push(x);
    return { net, x };
  });
  const forward = (): rn.Tensor => net.forward(x);
  const eager = (): rn.Tensor => rn.noGrad(() => (mp ? mp.autocast(forward) : forward()));
  // With a graph: one eager pass (the algorithm search), the capture, then a replay per pass.
  let graph: rn.cuda.CudaGraph | null = null;
  const pass = (): void => {
    if (!spec.cudaGraph) return void rn.scope(eager);
    if (!graph) {
      rn.scope(eager);
      graph = new rn.cuda.CudaGraph();
      graph.capture(eager).dispose();  // the output's memory stays the graph's
    }
    graph.replay();
  };
  return {
    run: () => {
      rn.cuda.setAllowTf32(spec.tf32);
      return timed(() => {
        for (let i = 0; i < spec.steps; i++) pass();
        rn.cuda.synchronize();
      });
    },
    peakMemoryBytes: () => rn.cuda.memory().peakAllocatedBytes,
    dispose: () => {
      graph?.dispose();
      releaseDevice([x], net);
    },
  };
}

// --- the workloads -----------------------------------------------------------------------------

function precisionLabel(amp: Amp | null, tf32: boolean): string {
  if (amp === 'bfloat16') return 'amp-bf16';
  if (amp === 'float16') return 'amp-fp16';
  return tf32 ? 'fp32 tf32-on' : 'fp32';
}

function trainWorkload(model: TrainSpec['model'], batch: number,
  o: { amp?: Amp; tf32?: boolean; channelsLast?: boolean; cudaGraph?: boolean } = {}): Workload {
  const cifar = model === 'cifar-resnet56';
  const spec: TrainSpec = {
    kind: 'gpu-train', model, batch, size: cifar ? 32 : 224, numClasses: cifar ? 10 : 1000, ...SGD,
    steps: TRAIN_STEPS, amp: o.amp ?? null, tf32: o.tf32 ?? false, channelsLast: o.channelsLast ?? false,
    cudaGraph: o.cudaGraph ?? false,
  };
  const layout = spec.channelsLast ? ' NHWC' : '';
  const graph = spec.cudaGraph ? ' graph' : '';
  return {
    name: `${model} train b${batch} ${precisionLabel(spec.amp, spec.tf32)}${layout}${graph} x${spec.steps}`,
    batch: batch * spec.steps,
    spec,
    peers: ['torch'],
    ours: () => trainRunner(spec),
  };
}

function inferWorkload(batch: number, steps: number,
  o: { amp?: Amp; channelsLast?: boolean; fuse?: boolean; cudaGraph?: boolean } = {}): Workload {
  const spec: InferSpec = {
    kind: 'gpu-infer', model: 'resnet50', batch, size: 224, steps,
    amp: o.amp ?? null, tf32: false, channelsLast: o.channelsLast ?? false, fuse: o.fuse ?? false,
    cudaGraph: o.cudaGraph ?? false,
  };
  const layout = spec.channelsLast ? ' NHWC' : '';
  const fused = spec.fuse ? ' folded' : '';
  const graph = spec.cudaGraph ? ' graph' : '';
  return {
    name: `resnet50 infer b${batch} ${precisionLabel(spec.amp, spec.tf32)}${layout}${fused}${graph} x${steps}`,
    batch: batch * steps,
    spec,
    peers: ['torch'],
    ours: () => inferRunner(spec),
  };
}

/** In order of importance: a run cut short still has the first lines in its log. */
function gpuWorkloads(): Workload[] {
  return [
    // the targets: ResNet-50 AMP training at batch 256, inference at batch 256
    trainWorkload('resnet50', 256, { amp: 'bfloat16', channelsLast: true }),
    trainWorkload('resnet50', 256, { amp: 'bfloat16', channelsLast: true, cudaGraph: true }),
    inferWorkload(256, INFER_STEPS, { amp: 'bfloat16', channelsLast: true, fuse: true }),
    inferWorkload(256, INFER_STEPS, { amp: 'float16', channelsLast: true, fuse: true }),
    trainWorkload('resnet50', 256, { amp: 'float16', channelsLast: true }),
    trainWorkload('resnet50', 256, { amp: 'float16', channelsLast: true, cudaGraph: true }),
    inferWorkload(256, INFER_STEPS, { amp: 'bfloat16', channelsLast: true }),
    // float32 references, the smaller nets, latency
    trainWorkload('resnet50', 64),
    trainWorkload('resnet50', 64, { tf32: true }),
    trainWorkload('resnet18', 256, { amp: 'bfloat16', channelsLast: true }),
    trainWorkload('resnet18', 256, { amp: 'float16', channelsLast: true }),
    trainWorkload('cifar-resnet56', 128),
    trainWorkload('cifar-resnet56', 128, { amp: 'bfloat16' }),
    trainWorkload('cifar-resnet56', 128, { amp: 'bfloat16', cudaGraph: true }),
    inferWorkload(256, INFER_STEPS),
    inferWorkload(1, LATENCY_STEPS),
    inferWorkload(1, LATENCY_STEPS, { fuse: true, cudaGraph: true }),
  ];
}

function deviceLine(): string {
  const cuda = rn.backends().cuda;
  const devices = cuda.devices.map((d) => `${d.name} (sm_${d.computeCapability.replace('.', '')})`).join(', ');
  return `${devices || 'no device'}, cuDNN ${cuda.cudnnVersion ?? '?'}, cuBLAS ${cuda.cublasVersion ?? '?'}`;
}

/** Without CUDA: why, and what would have run. */
function reportUnavailable(): void {
  const cuda = rn.backends().cuda;
  console.log(`gpu: CUDA available: no — ${cuda.reason ?? 'no reason given'} (addon built ${cuda.compiled ? 'with' : 'without'} its CUDA part)`);
  console.log('gpu: no workload run; on a CUDA machine this suite times, ours vs PyTorch on the same GPU:');
  for (const w of gpuWorkloads()) console.log(`  ${w.name}`);
}

export const gpu: Suite = {
  name: 'gpu',
  get description(): string {
    const base = 'ResNet training steps and inference on the GPU (fp32, TF32, AMP bf16/fp16), ours vs PyTorch on the same GPU';
    return rn.backends().cuda.available ? `${base}; ours on ${deviceLine()}` : base;
  },
  defaultRuns: 5,
  peers: ['torch'],
  workloads(): Workload[] {
    requestCudaPeer(); // the harness starts the peer after this: python3 from PATH, on CUDA
    return gpuWorkloads();
  },
  // The measuring loop runs only where CUDA is available; elsewhere the suite reports why and exits 0.
  get standalone(): (() => void) | undefined {
    return rn.backends().cuda.available ? undefined : reportUnavailable;
  },
};
