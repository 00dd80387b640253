// The device check's first step (scripts/gpu/device-check.sh): in well under a minute, what the
// machine has and whether the core GPU paths agree with the CPU, each check independent of the
// others (one that throws or disagrees is reported with the reason, and the next one runs):
//   the device, the driver, CUDA runtime, cuDNN and cuBLAS (versions and paths, or why not);
//   conv2d forward + backward (float32, NCHW and channels-last; bfloat16 with a bias);
//   batch norm forward + backward in training mode; matmul (float32 and bfloat16); convBnStats
//   (the fused cuDNN graph, with the dtype its intermediates took);
//   one ResNet-18 training step (SGD with momentum) against the same step on the CPU.
// Usage: node --import tsx scripts/gpu/smoke.ts [results.jsonl]. Each result is appended to the
// file as it comes (a run cut short still says how far it got). Exit status 1 when a check failed
// or CUDA is unavailable. SMOKE_DEVICE=cpu runs every check with the CPU standing in for the GPU
// (a dry run of the script itself on a machine without one: each error is then 0).
import { appendFileSync, writeFileSync } from 'node:fs';
import * as rn from '../../lib/index.js';
import { convBnStats } from '../../lib/ops/conv_bn_stats.js';

const jsonPath = process.argv[2];
const device: rn.Device = process.env.SMOKE_DEVICE === 'cpu' ? 'cpu' : 'cuda';
let failures = 0;

function record(entry: Record<string, unknown>): void {
  if (jsonPath) appendFileSync(jsonPath, `${JSON.stringify(entry)}\n`);
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (Number(a[i]) - Number(b[i])) ** 2;
    den += Number(b[i]) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

const values = (t: rn.Tensor): Float32Array => (t.dtype === 'float32' ? t : t.to({ dtype: 'float32' })).toArray() as Float32Array;

/** Runs one check: fn returns the measured errors (name -> relative error) against the CPU. */
function check(name: string, tolerance: number, fn: () => Record<string, number>): void {
  const t0 = performance.now();
  try {
    const errors = rn.scope(fn);
    if (device === 'cuda') rn.cuda.synchronize();
    const worst = Math.max(...Object.values(errors));
    const ok = Number.isFinite(worst) && worst < tolerance;
    if (!ok) failures++;
    const ms = Math.round(performance.now() - t0);
    const shown = Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name} (${ms} ms): relative errors ${shown}; tolerance ${tolerance}`);
    record({ check: name, ok, ms, errors, tolerance });
  } catch (err) {
    failures++;
    const message = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
    console.log(`FAIL ${name}: threw ${message}`);
    record({ check: name, ok: false, error: message });
  }
}

/** The op on CPU inputs and on GPU copies; the output and every input's gradient compared. */
function compare(inputs: Record<string, rn.Tensor>, op: (x: Record<string, rn.Tensor>) => rn.Tensor): Record<string, number> {
  const onGpu: Record<string, rn.Tensor> = {};
  for (const [key, t] of Object.entries(inputs)) {
    const copy = rn.noGrad(() => t.to(device));
    if (t.requiresGrad) copy.requiresGrad = true;
    onGpu[key] = copy;
  }
  const cpu = op(inputs), gpu = op(onGpu);
  const errors: Record<string, number> = { output: relativeError(values(gpu), values(cpu)) };
  const upstream = rn.randn([...cpu.shape]);
  rn.sum(rn.mul(cpu.dtype === 'float32' ? cpu : cpu.to({ dtype: 'float32' }), upstream)).backward();
  rn.sum(rn.mul(gpu.dtype === 'float32' ? gpu : gpu.to({ dtype: 'float32' }), upstream.to(device))).backward();
  for (const [key, t] of Object.entries(inputs)) {
    if (t.requiresGrad) errors[`d${key}`] = relativeError(values(onGpu[key]!.grad!), values(t.grad!));
  }
  return errors;
}

function param(shape: number[], memoryFormat: rn.MemoryFormat = 'contiguous'): rn.Tensor {
  const t = rn.randn(shape, { memoryFormat });
  t.requiresGrad = true;
  return t;
}

// ---- the machine ----
const b = rn.backends();
const lib = (l?: { loaded: boolean; version?: string; path?: string; reason?: string; builtForCuda?: string; searched: string[] }): string =>
  !l ? 'absent (no CUDA part)'
    : l.loaded ? `${l.version} from ${l.path}${l.builtForCuda ? ` (built for CUDA ${l.builtForCuda})` : ''}`
      : `not loaded: ${l.reason}\n  looked in:\n    ${l.searched.join('\n    ')}`;
console.log(`devices: ${JSON.stringify(b.cuda.devices)}`);
console.log(`driver ${b.cuda.driverVersion}, CUDA runtime ${b.cuda.runtimeVersion}, addon compiled with CUDA: ${b.cuda.compiled}`);
console.log(`cuDNN: ${lib(b.cuda.cudnn)}`);
console.log(`cuBLAS: ${lib(b.cuda.cublas)}`);
if (jsonPath) writeFileSync(jsonPath, '');
record({ check: 'backends', cuda: { ...b.cuda, cudnn: b.cuda.cudnn && { ...b.cuda.cudnn, searched: undefined }, cublas: b.cuda.cublas && { ...b.cuda.cublas, searched: undefined } } });
if (device === 'cpu') {
  console.log('SMOKE_DEVICE=cpu: the CPU stands in for the GPU (a dry run of this script)');
} else if (!b.cuda.available) {
  console.log(`FAIL CUDA is unavailable: ${b.cuda.reason}`);
  record({ check: 'available', ok: false, error: b.cuda.reason });
  process.exit(1);
}

rn.manualSeed(7);

// ---- conv2d ----
for (const memoryFormat of ['contiguous', 'channelsLast'] as const) {
  check(`conv2d float32 ${memoryFormat} forward + backward (3x3, stride 2, pad 1, bias)`, 1e-4, () => {
    const x = param([4, 16, 14, 14], memoryFormat);
    const w = param([32, 16, 3, 3], memoryFormat);
    const bias = param([32]);
    return compare({ x, w, bias }, (t) => rn.conv2d(t.x!, t.w!, t.bias!, { stride: 2, padding: 1 }));
  });
}
check('conv2d under autocast bfloat16, channels-last, forward + backward (bias through cudnnAddTensor)', 3e-2, () => {
  const x = param([4, 16, 14, 14], 'channelsLast');
  const w = param([32, 16, 3, 3], 'channelsLast');
  const bias = param([32]);
  return compare({ x, w, bias }, (t) => rn.autocast({ dtype: 'bfloat16' }, () => rn.conv2d(t.x!, t.w!, t.bias!, { padding: 1 })));
});

// ---- batch norm ----
check('batchNorm2d training forward + backward (running statistics too)', 1e-4, () => {
  const x = param([8, 16, 10, 10]);
  const weight = param([16]), bias = param([16]);
  const cpuMean = rn.zeros([16]), cpuVar = rn.ones([16]);
  const gpuMean = rn.zeros([16], { device }), gpuVar = rn.ones([16], { device });
  let calls = 0;
  const errors = compare({ x, weight, bias }, (t) => {
    const onCpu = calls++ === 0;  // compare() runs the CPU inputs first, then their device copies
    return rn.batchNorm2d(t.x!, onCpu ? cpuMean : gpuMean, onCpu ? cpuVar : gpuVar, t.weight!, t.bias!, { training: true });
  });
  errors.runningMean = relativeError(values(gpuMean), values(cpuMean));
  errors.runningVar = relativeError(values(gpuVar), values(cpuVar));
  return errors;
});

// ---- matmul ----
check('matmul float32 (cublasSgemm) forward + backward', 1e-4, () =>
  compare({ a: param([64, 96]), b: param([96, 48]) }, (t) => rn.matmul(t.a!, t.b!)));
check('matmul under autocast bfloat16 (cublasGemmEx) forward + backward', 3e-2, () =>
  compare({ a: param([64, 96]), b: param([96, 48]) }, (t) => rn.autocast({ dtype: 'bfloat16' }, () => rn.matmul(t.a!, t.b!))));

// ---- convBnStats: the fused cuDNN graph (float16, channels-last), forward ----
check('convBnStats under autocast float16, channels-last (scale + bias + relu prologue), forward', 1e-2, () => {
  const x = rn.randn([4, 32, 8, 8], { memoryFormat: 'channelsLast' }), w = rn.randn([64, 32, 3, 3], { memoryFormat: 'channelsLast' });
  const scale = rn.rand([32]), bias = rn.randn([32]);
  const run = (on: rn.Device) => rn.noGrad(() => rn.autocast({ dtype: 'float16' }, () =>
    convBnStats(x.to(on), w.to(on), { scale: scale.to(on), bias: bias.to(on), relu: true, padding: 1 })));
  const cpu = run('cpu'), gpu = run(device);
  if (device === 'cuda') {
    const plans = rn.cuda.fusedConvPlans();
    console.log(`  fused plans: ${plans.plans} (intermediates '${plans.intermediates}'), unsupported: ${plans.unsupported}` +
      `${plans.lastReason ? `; last reason: ${plans.lastReason}` : ''}`);
  }
  return {
    y: relativeError(values(gpu.y), values(cpu.y)),
    sum: relativeError(values(gpu.sum), values(cpu.sum)),
    sqSum: relativeError(values(gpu.sqSum), values(cpu.sqSum)),
  };
});

// ---- one ResNet-18 training step ----
check('ResNet-18 training step (batch 4, 64x64, SGD momentum) against the CPU', 1e-3, () => {
  const make = (): rn.nn.Module => {
    rn.manualSeed(11);
    return rn.models.resnet18({ numClasses: 10 });
  };
  const cpuModel = make(), gpuModel = make();
  gpuModel.to(device);
  rn.manualSeed(12);
  const x = rn.randn([4, 3, 64, 64]);
  const labels = rn.tensor([1, 3, 5, 7], [4], { dtype: 'int64' });
  const stepOn = (model: rn.nn.Module, on: rn.Device): number => {
    model.train();
    const opt = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const loss = rn.crossEntropy(model.forward(x.to(on)), labels.to(on));
    const value = loss.item();
    loss.backward();
    opt.step();
    opt.dispose();
    return value;
  };
  const cpuLoss = stepOn(cpuModel, 'cpu'), gpuLoss = stepOn(gpuModel, device);
  const errors: Record<string, number> = { loss: Math.abs(gpuLoss - cpuLoss) / Math.abs(cpuLoss) };
  const gpuParams = new Map(gpuModel.namedParameters());
  let worst = -1, worstName = '', count = 0;
  for (const [name, p] of cpuModel.namedParameters()) {
    const e = relativeError(values(gpuParams.get(name)!), values(p));
    count++;
    if (e > worst) [worst, worstName] = [e, name];
  }
  errors[`${count} parameters (worst: ${worstName})`] = worst;
  return errors;
});

console.log(failures === 0 ? 'smoke: all checks passed' : `smoke: ${failures} check(s) FAILED`);
process.exit(failures === 0 ? 0 : 1);
