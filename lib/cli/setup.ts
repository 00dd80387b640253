// Builds what a training command needs from its options: device check, data, loaders, model,
// optimizer (parameter groups), schedule.
import { backends } from '../backends.js';
import { DataLoader } from '../data/loader.js';
import { createModel, isCifarModel, type ModelSpec } from '../models/registry.js';
import type { ShortcutOption } from '../models/cifar.js';
import type { Module } from '../nn/module.js';
import { LRScheduler, cosine, constant, linearWarmup, multiStep, type Schedule } from '../optim/schedules.js';
import { SGD } from '../optim/sgd.js';
import { manualSeed } from '../random.js';
import type { Tensor } from '../tensor.js';
import { defaultImageSize, openData, type DataSource } from './data_spec.js';

export interface RunOptions {
  model: string;
  data: string;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  bnWeightDecay: boolean;
  schedule: 'multistep' | 'cosine' | 'constant';
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
  /** folder data: the side images are resized and centre-cropped to (default: defaultImageSize). */
  imageSize?: number;
}

export interface Run {
  spec: ModelSpec;
  data: DataSource;
  model: Module;
  trainLoader: DataLoader;
  testLoader: DataLoader | undefined;
  optimizer: SGD;
  scheduler: LRScheduler;
  totalSteps: number;
  device: 'cpu' | 'cuda';
}

/** The device to use: 'cuda' must be available, 'auto' takes CUDA when it is. */
export function resolveDevice(requested: 'cpu' | 'cuda' | 'auto', say: (line: string) => void): 'cpu' | 'cuda' {
  const cuda = backends().cuda;
  if (requested === 'cuda' && !cuda.available) throw new Error(`--device cuda: CUDA cannot be used here (${cuda.reason})`);
  if (requested === 'auto') {
    say(cuda.available ? `device: cuda (${cuda.devices[0]?.name ?? 'GPU'})` : `device: cpu (${cuda.reason})`);
    return cuda.available ? 'cuda' : 'cpu';
  }
  return requested;
}

export function makeSchedule(o: RunOptions, totalSteps: number): Schedule {
  const base = o.schedule === 'cosine' ? cosine(Math.max(1, totalSteps - o.warmup))
    : o.schedule === 'constant' ? constant()
      // The paper divides by 10 at 32k and 48k of 64k iterations: 50% and 75% of the run.
      : multiStep(o.milestones ?? [Math.floor(totalSteps * 0.5), Math.floor(totalSteps * 0.75)].filter((m, i, a) => m > 0 && a.indexOf(m) === i), 0.1);
  return o.warmup > 0 ? linearWarmup(o.warmup, base) : base;
}

export async function setUpRun(o: RunOptions, say: (line: string) => void): Promise<Run> {
  const device = resolveDevice(o.device, say);
  manualSeed(o.seed);
  const data = await openData(o.data, o.seed, { imageSize: o.imageSize ?? defaultImageSize(o.model) });
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
  const optimizer = new SGD([{ params: decayed }, ...(exempt.length > 0 ? [{ params: exempt, weightDecay: 0 }] : [])],
    { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov });
  const totalSteps = Math.min(o.maxSteps ?? Infinity, o.epochs * trainLoader.length);
  const scheduler = new LRScheduler(optimizer, makeSchedule(o, totalSteps));
  return { spec, data, model, trainLoader, testLoader, optimizer, scheduler, totalSteps, device };
}

/** Frees the model and optimizer state and stops the loaders' workers. */
export async function tearDown(run: Run): Promise<void> {
  await run.trainLoader.close();
  await run.testLoader?.close();
  run.optimizer.dispose();
  run.model.dispose();
}
