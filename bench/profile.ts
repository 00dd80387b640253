// profile: where the time of a training step or an inference pass goes, per native op.
//   npm run bench -- profile [--model NAME] [--mode train|infer] [--device cpu|cuda] [--batch N]
//                            [--size N] [--amp bfloat16|float16] [--channels-last] [--tf32]
//                            [--no-fuse] [--steps N] [--warmup N] [--threads N] [--json PATH]
// Builds the model on the device, runs --warmup untimed steps, then --steps steps under
// rn.profiler, and prints the profiler's table (op, calls, host ms and share; device ms and share
// on the GPU) and what the steps took on the wall clock, of which the native ops are a part (the
// rest: JavaScript, the autograd tape, waiting for the GPU). The JSON goes to bench/results/.
// A training step is the one of cpu-train and gpu (zero grad, forward, cross-entropy, backward,
// SGD step with lr 0.01, momentum 0.9, weight decay 1e-4; a GradScaler under float16); inference
// is a forward pass in eval mode under rn.noGrad, with batch norm folded into the convolutions as
// in cpu-infer (--no-fuse keeps it).
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as rn from '../lib/index.js';
import { writeResults } from './results.js';

const USAGE = `usage: npm run bench -- profile [options]

options:
  --model NAME       ${rn.models.MODEL_NAMES.slice(0, 5).join(', ')}, cifar-resnet20, ... (default resnet50)
  --mode MODE        train (one SGD step) or infer (one forward pass) (default train)
  --device DEVICE    cpu or cuda (default cpu)
  --batch N          images per step (default: 8 for ImageNet models, 128 for CIFAR ones)
  --size N           image height and width (default: 224 for ImageNet models, 32 for CIFAR ones)
  --amp DTYPE        autocast to bfloat16 or float16 (float16 trains with a GradScaler)
  --channels-last    model and input in channels-last memory format
  --tf32             TF32 tensor-core math for float32 on the GPU
  --no-fuse          infer: keep batch norm (by default it is folded into the convolutions)
  --steps N          profiled steps (default 10)
  --warmup N         untimed steps first (default 2)
  --threads N        CPU threads (default: all ${cpus().length} cores)
  --json PATH        where to write the JSON (default bench/results/profile-<model>-<mode>-<device>-<date>.json)
  -h, --help         this text`;

function fail(msg: string): never {
  console.error(`bench profile: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, v: string | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} expects an integer >= ${min}, got '${v}'`);
  return n;
}

function parse(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        model: { type: 'string' }, mode: { type: 'string' }, device: { type: 'string' },
        batch: { type: 'string' }, size: { type: 'string' }, amp: { type: 'string' },
        'channels-last': { type: 'boolean' }, tf32: { type: 'boolean' }, 'no-fuse': { type: 'boolean' },
        steps: { type: 'string' }, warmup: { type: 'string' }, threads: { type: 'string' }, json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const model = v.model ?? 'resnet50';
  const cifar = rn.models.isCifarModel(model);
  const mode = v.mode ?? 'train';
  if (mode !== 'train' && mode !== 'infer') fail(`--mode expects train or infer, got '${mode}'`);
  const device = v.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') fail(`--device expects cpu or cuda, got '${device}'`);
  const amp = v.amp ?? null;
  if (amp !== null && amp !== 'bfloat16' && amp !== 'float16') fail(`--amp expects bfloat16 or float16, got '${amp}'`);
  return {
    model, mode: mode as 'train' | 'infer', device: device as rn.Device, amp: amp as rn.amp.LowPrecision | null,
    batch: integer('batch', v.batch, cifar ? 128 : 8, 1),
    size: integer('size', v.size, cifar ? 32 : 224, 1),
    numClasses: cifar ? 10 : 1000,
    memoryFormat: (v['channels-last'] ? 'channelsLast' : 'contiguous') as rn.MemoryFormat,
    tf32: v.tf32 ?? false,
    fuse: mode === 'infer' && !v['no-fuse'],
    steps: integer('steps', v.steps, 10, 1),
    warmup: integer('warmup', v.warmup, 2, 0),
    threads: integer('threads', v.threads, cpus().length, 1),
    json: v.json ?? null,
  };
}

type Options = ReturnType<typeof parse>;

/** One step of the workload, and what to free afterwards. */
function prepare(o: Options): { step: () => void; dispose: () => void } {
  let net: rn.nn.Module | null = null;
  const tensors: rn.Tensor[] = [];
  const dispose = (): void => {
    for (const t of tensors) t.dispose();
    net?.dispose();
  };
  try {
    const model = net = rn.models.createModel({ name: o.model, numClasses: o.numClasses, inChannels: 3 });
    if (o.mode === 'infer') {
      model.eval();
      if (o.fuse) rn.nn.fuseForInference(model);
    } else {
      model.train();
    }
    model.to({ device: o.device, memoryFormat: o.memoryFormat });
    const forward = (x: rn.Tensor): rn.Tensor => model.forward(x);
    const x = rn.randn([o.batch, 3, o.size, o.size], { device: o.device, memoryFormat: o.memoryFormat });
    tensors.push(x);
    const underAmp = <T>(fn: () => T): T => (o.amp === null ? fn() : rn.autocast({ dtype: o.amp }, fn));
    if (o.mode === 'infer') {
      return { step: () => rn.scope(() => rn.noGrad(() => { underAmp(() => forward(x)); })), dispose };
    }
    const labels = rn.tensor(Array.from({ length: o.batch }, (_, i) => (i * 7919) % o.numClasses), [o.batch],
      { dtype: 'int64', device: o.device });
    tensors.push(labels);
    const opt = new rn.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const scaler = o.amp === 'float16' ? new rn.amp.GradScaler() : null;
    const step = (): void => rn.scope(() => {
      opt.zeroGrad();
      // No label check: it reads the labels back, which would synchronise every profiled step (the trainer checks them once).
      const loss = underAmp(() => rn.crossEntropy(forward(x), labels, { checkLabels: false }));
      if (scaler) {
        scaler.scale(loss).backward();
        scaler.step(opt);
        scaler.update();
      } else {
        loss.backward();
        opt.step();
      }
    });
    return { step, dispose: () => { opt.dispose(); dispose(); } };
  } catch (err) {
    dispose();
    throw err;
  }
}

function describeRun(o: Options): string {
  const precision = o.amp === null ? (o.tf32 ? 'float32, TF32 on' : 'float32') : `autocast ${o.amp}`;
  const extras = [o.memoryFormat === 'channelsLast' ? 'channels-last' : '', o.mode === 'infer' && !o.fuse ? 'BN not folded' : '']
    .filter((s) => s !== '');
  return `${o.model} ${o.mode === 'train' ? 'training step' : 'inference'} b${o.batch} ${o.size}x${o.size}, ${precision}` +
    `${extras.length ? `, ${extras.join(', ')}` : ''} on ${o.device}`;
}

function deviceLine(o: Options): string {
  const b = rn.backends();
  if (o.device === 'cpu') return `${cpus()[0]?.model ?? 'unknown CPU'}, ${b.cpu.threads} threads, GEMM ${b.cpu.gemm} (${b.cpu.gemmIsa})`;
  const d = b.cuda.devices[0];
  return `${d ? `${d.name} (sm_${d.computeCapability.replace('.', '')})` : 'no device'}, cuDNN ${b.cuda.cudnnVersion ?? '?'}, cuBLAS ${b.cuda.cublasVersion ?? '?'}`;
}

/** Runs the profile command with the arguments after `profile`; exits 1 where the device is unusable. */
export function profileCommand(args: string[]): void {
  const o = parse(args);
  if (o.device === 'cuda' && !rn.cuda.isAvailable()) {
    console.error(`bench profile: CUDA unavailable: ${rn.backends().cuda.reason ?? 'no reason given'}`);
    process.exit(1);
  }
  const started = new Date();
  rn.setNumThreads(o.threads);
  if (o.device === 'cuda') rn.cuda.setAllowTf32(o.tf32);
  const what = describeRun(o);
  console.log(`profile: ${what}\nmachine: ${deviceLine(o)}\n${o.warmup} warm-up + ${o.steps} profiled steps`);

  const { step, dispose } = prepare(o);
  let report: rn.profiler.ProfileReport;
  let wallMs: number;
  try {
    for (let i = 0; i < o.warmup; i++) step();
    rn.cuda.synchronize();
    rn.profiler.start();
    const t0 = performance.now();
    try {
      for (let i = 0; i < o.steps; i++) step();
      rn.cuda.synchronize();
    } finally {
      wallMs = performance.now() - t0;
      report = rn.profiler.stop();
    }
  } finally {
    dispose();
  }

  const perStep = (ms: number): string => `${(ms / o.steps).toFixed(2)} ms`;
  const ofWall = (ms: number): string => `${((100 * ms) / wallMs).toFixed(1)}% of the wall time`;
  console.log(`\n${rn.profiler.format(report)}\n`);
  console.log(`per step: wall ${perStep(wallMs)} (${((o.batch * o.steps * 1000) / wallMs).toFixed(1)} img/s); ` +
    `native ops: host ${perStep(report.totalHostMs)} (${ofWall(report.totalHostMs)})` +
    (report.totalDeviceMs === undefined ? '' : `, device ${perStep(report.totalDeviceMs)} (${ofWall(report.totalDeviceMs)})`));
  const results = {
    command: 'profile',
    description: what,
    date: started.toISOString(),
    options: { ...o, json: undefined },
    machine: { device: deviceLine(o), cpu: cpus()[0]?.model ?? null, cores: cpus().length, node: process.version },
    wallMs,
    report,
  };
  const name = `profile-${o.model}-${o.mode}-${o.device}${o.amp ? `-${o.amp}` : ''}-b${o.batch}`;
  console.log(`results: ${writeResults(o.json, name, started, results)}`);
}
