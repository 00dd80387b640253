// Builds what a training command needs from its options: flag checks, device check, data,
// loaders, model, optimizer (SGD, Adam or AdamW with parameter groups), schedule, plateau.
import { backends } from '../backends.js';
import { DataLoader } from '../data/loader.js';
import { createModel, isCifarModel, MODEL_NAMES, type ModelSpec } from '../models/registry.js';
import type { ShortcutOption } from '../models/cifar.js';
import type { Module } from '../nn/module.js';
import { Adam, AdamW } from '../optim/adam.js';
import type { Optimizer } from '../optim/optimizer.js';
import { ReduceLROnPlateau } from '../optim/plateau.js';
import { LRScheduler, cosine, constant, linearWarmup, multiStep, type Schedule } from '../optim/schedules.js';
import { SGD } from '../optim/sgd.js';
import { topKList } from '../train/evaluate.js';
import { plannedSteps } from '../train/trainer.js';
import { manualSeed } from '../random.js';
import type { Tensor } from '../tensor.js';
import { defaultImageSize, openData, type DataSource } from './data_spec.js';

export interface RunOptions {
  model: string;
  data: string;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  /** Default: 'sgd'. */
  optimizer?: OptimizerName;
  /** Defaults per optimizer (OPTIMIZER_DEFAULTS): SGD lr 0.1, weight decay 1e-4; Adam and AdamW PyTorch's. */
  lr?: number;
  weightDecay?: number;
  /** SGD only (default 0.9, no Nesterov). */
  momentum?: number;
  nesterov?: boolean;
  /** Adam and AdamW only (default PyTorch's: [0.9, 0.999], 1e-8). */
  betas?: [number, number];
  eps?: number;
  bnWeightDecay: boolean;
  /** 'plateau': the base rate (after any warm-up) divided by plateauFactor's inverse when the test loss stalls. */
  schedule: 'multistep' | 'cosine' | 'constant' | 'plateau';
  /** ReduceLROnPlateau's patience (test evaluations, default 10) and factor (default 0.1). */
  plateauPatience?: number;
  plateauFactor?: number;
  milestones?: number[];
  warmup: number;
  shortcut?: ShortcutOption;
  device: 'cpu' | 'cuda' | 'auto';
  /** Mixed precision for the forward pass (float16 adds loss scaling). */
  amp?: 'bfloat16' | 'float16';
  /** Model and batches in channels-last (NHWC) memory format. */
  channelsLast?: boolean;
  /** Training steps replayed from a CUDA graph. */
  cudaGraph?: boolean;
  seed: number;
  augment?: boolean;
  /** Ranks of the reported errors besides top-1 (default: 5 where there are more than five classes). */
  topk?: number[];
  /** folder data: the side images are resized and centre-cropped to (default: defaultImageSize). */
  imageSize?: number;
}

export interface Run {
  spec: ModelSpec;
  data: DataSource;
  model: Module;
  trainLoader: DataLoader;
  testLoader: DataLoader | undefined;
  optimizer: Optimizer;
  scheduler: LRScheduler;
  plateau: ReduceLROnPlateau | undefined;
  totalSteps: number;
  device: 'cpu' | 'cuda';
}

export type OptimizerName = 'sgd' | 'adam' | 'adamw';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adam', 'adamw'];

/** Learning rate and weight decay when not given: the project's SGD recipe, PyTorch's defaults for Adam and AdamW. */
export const OPTIMIZER_DEFAULTS: Record<OptimizerName, { lr: number; weightDecay: number }> = {
  sgd: { lr: 0.1, weightDecay: 1e-4 },
  adam: { lr: 1e-3, weightDecay: 0 },
  adamw: { lr: 1e-3, weightDecay: 1e-2 },
};

/**
 * Refuses options that would be ignored or cannot work together, in a sentence naming the flags,
 * before anything is loaded or built.
 */
export function checkRunOptions(o: RunOptions): void {
  const optimizer = o.optimizer ?? 'sgd';
  if (!OPTIMIZER_NAMES.includes(optimizer)) throw new TypeError(`--optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}, got '${String(optimizer)}'`);
  if (optimizer === 'sgd') {
    if (o.betas !== undefined) throw new TypeError('--betas applies to --optimizer adam or adamw, not sgd');
    if (o.eps !== undefined) throw new TypeError('--eps applies to --optimizer adam or adamw, not sgd');
  } else {
    if (o.momentum !== undefined) throw new TypeError(`--momentum applies to SGD; --optimizer ${optimizer} has --betas (default 0.9,0.999)`);
    if (o.nesterov) throw new TypeError(`--nesterov applies to SGD, not --optimizer ${optimizer}`);
    if (o.cudaGraph) throw new TypeError(`--cuda-graph replays SGD steps only; --optimizer ${optimizer} updates depend on the step count`);
  }
  if (o.schedule !== 'plateau') {
    if (o.plateauPatience !== undefined) throw new TypeError(`--plateau-patience applies to --schedule plateau, not ${o.schedule}`);
    if (o.plateauFactor !== undefined) throw new TypeError(`--plateau-factor applies to --schedule plateau, not ${o.schedule}`);
  }
  if (o.milestones !== undefined && o.schedule !== 'multistep') throw new TypeError(`--milestones applies to --schedule multistep, not ${o.schedule}`);
  if (o.plateauFactor !== undefined && !(o.plateauFactor > 0 && o.plateauFactor < 1)) throw new RangeError(`--plateau-factor must be between 0 and 1, got ${o.plateauFactor}`);
  if (o.cudaGraph && o.device === 'cpu') throw new TypeError('--cuda-graph needs the model on the GPU; it cannot run with --device cpu');
}

/** Fails when `name` (with `shortcut`) is not a model, before any data is read. */
export function checkModelName(name: string, shortcut?: ShortcutOption): void {
  if (MODEL_NAMES.includes(name) && shortcut === undefined) return;
  createModel({ name, numClasses: 10, inChannels: 3, ...(shortcut ? { shortcut } : {}) }).dispose();
}

/** The device to use: 'cuda' must be available, 'auto' takes CUDA when it is. */
export function resolveDevice(requested: 'cpu' | 'cuda' | 'auto'): { device: 'cpu' | 'cuda'; line: string } {
  const cuda = backends().cuda;
  if (requested === 'cuda' && !cuda.available) throw new Error(`--device cuda: CUDA cannot be used here (${cuda.reason})`);
  const device = requested === 'auto' ? (cuda.available ? 'cuda' : 'cpu') : requested;
  const line = device === 'cuda' ? `device: cuda (${cuda.devices[0]?.name ?? 'GPU'})` : `device: cpu${cuda.available ? '' : ` (${cuda.reason})`}`;
  return { device, line };
}

function makeOptimizer(o: RunOptions, decayed: Tensor[], exempt: Tensor[]): Optimizer {
  const name = o.optimizer ?? 'sgd';
  const lr = o.lr ?? OPTIMIZER_DEFAULTS[name].lr;
  const weightDecay = o.weightDecay ?? OPTIMIZER_DEFAULTS[name].weightDecay;
  if (name === 'sgd') {
    return new SGD([{ params: decayed }, ...(exempt.length > 0 ? [{ params: exempt, weightDecay: 0 }] : [])],
      { lr, momentum: o.momentum ?? 0.9, weightDecay, nesterov: o.nesterov ?? false });
  }
  const groups = [{ params: decayed }, ...(exempt.length > 0 ? [{ params: exempt, weightDecay: 0 }] : [])];
  const options = { lr, weightDecay, ...(o.betas ? { betas: o.betas } : {}), ...(o.eps !== undefined ? { eps: o.eps } : {}) };
  return name === 'adam' ? new Adam(groups, options) : new AdamW(groups, options);
}

/** The plateau scheduler of --schedule plateau (on top of the schedule's warm-up), else undefined. */
export function makePlateau(o: RunOptions, scheduler: LRScheduler): ReduceLROnPlateau | undefined {
  return o.schedule === 'plateau' ? new ReduceLROnPlateau(scheduler, { patience: o.plateauPatience ?? 10, factor: o.plateauFactor ?? 0.1 }) : undefined;
}

export function makeSchedule(o: RunOptions, totalSteps: number): Schedule {
  const base = o.schedule === 'cosine' ? cosine(Math.max(1, totalSteps - o.warmup))
    : o.schedule === 'constant' || o.schedule === 'plateau' ? constant()
      // The paper divides by 10 at 32k and 48k of 64k iterations: 50% and 75% of the run.
      : multiStep(o.milestones ?? [Math.floor(totalSteps * 0.5), Math.floor(totalSteps * 0.75)].filter((m, i, a) => m > 0 && a.indexOf(m) === i), 0.1);
  return o.warmup > 0 ? linearWarmup(o.warmup, base) : base;
}

/**
 * Checks the options, then opens the data and builds the model, loaders, optimizer and schedule;
 * `check(data)` runs on the opened data before anything is built (a resume's shape check).
 * The device line is said once all is built.
 */
export async function setUpRun(o: RunOptions, say: (line: string) => void, check?: (data: DataSource) => void): Promise<Run> {
  checkRunOptions(o);
  checkModelName(o.model, o.shortcut);
  const { device, line } = resolveDevice(o.device);
  if (o.cudaGraph && device !== 'cuda') throw new TypeError(`--cuda-graph needs the model on the GPU, and this run is on the CPU (${line})`);
  manualSeed(o.seed);
  const data = await openData(o.data, o.seed, { imageSize: o.imageSize ?? defaultImageSize(o.model) });
  if (o.schedule === 'plateau' && !data.test) throw new TypeError(`--schedule plateau follows the test loss, and ${o.data} has no test split`);
  topKList(o.topk, data.numClasses, '--topk');
  check?.(data);
  const spec: ModelSpec = { name: o.model, numClasses: data.numClasses, inChannels: data.inChannels, ...(o.shortcut ? { shortcut: o.shortcut } : {}) };
  if (!isCifarModel(o.model) && data.train.imageShape[1] < 32) {
    say(`note: ${o.model} downsamples 32x; ${data.train.imageShape[1]}x${data.train.imageShape[2]} images leave it a 1x1 map (the cifar-* nets suit small images)`);
  }
  const model = createModel(spec);
  model.to({ device, ...(o.channelsLast ? { memoryFormat: 'channelsLast' as const } : {}) });
  const augment = o.augment ?? data.augmentByDefault;
  const trainLoader = new DataLoader(data.train, {
    batchSize: o.batchSize, shuffle: true, seed: o.seed, augment, mean: data.mean, std: data.std, dropLast: data.train.length > o.batchSize,
  });
  const testLoader = data.test
    ? new DataLoader(data.test, { batchSize: Math.max(o.batchSize, 100), mean: data.mean, std: data.std })
    : undefined;
  // Without --bn-weight-decay, BN weights and all biases (the 1-D parameters) skip weight decay.
  const decayed: Tensor[] = [], exempt: Tensor[] = [];
  for (const p of model.parameters()) (o.bnWeightDecay || p.ndim > 1 ? decayed : exempt).push(p);
  const optimizer = makeOptimizer(o, decayed, exempt);
  const totalSteps = plannedSteps(o.epochs, trainLoader.length, o.maxSteps);
  const scheduler = new LRScheduler(optimizer, makeSchedule(o, totalSteps));
  const plateau = makePlateau(o, scheduler);
  say(line);
  return { spec, data, model, trainLoader, testLoader, optimizer, scheduler, plateau, totalSteps, device };
}

/** Frees the model and optimizer state and stops the loaders' workers. */
export async function tearDown(run: Run): Promise<void> {
  await run.trainLoader.close();
  await run.testLoader?.close();
  run.optimizer.dispose();
  run.model.dispose();
}
