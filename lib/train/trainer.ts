// The training loop: epochs of SGD over a DataLoader with loss, top-1 (and top-5) error,
// images per second, a progress bar, a JSONL metrics log, test-set evaluation, checkpoints
// (written atomically) and the error chart, all in `outDir`. With `resume`, the run continues
// from the checkpoint in outDir: same weights, optimizer and schedule state, same data order.
import { join } from 'node:path';
import { mkdirSync, existsSync } from 'node:fs';
import { noGrad } from '../autograd.js';
import type { Batch, DataLoader } from '../data/loader.js';
import { scope } from '../memory.js';
import type { ModelSpec } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import type { Device, Tensor } from '../tensor.js';
import { checkLabelValues, crossEntropy } from '../ops/loss.js';
import type { LRScheduler } from '../optim/schedules.js';
import type { SGD } from '../optim/sgd.js';
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { Average, topKErrors, topKErrorsOf } from './metrics.js';
import { autocast, type LowPrecision } from '../amp/autocast.js';
import { GradScaler } from '../amp/grad_scaler.js';
import type { TransportArray } from '../binding.js';
import { GraphedSteps, type StepOutputs } from './graph_steps.js';
import { MetricsLog, type MetricsRecord, type TestRecord, type TrainRecord } from './metrics_log.js';
import { writeErrorChart, type ErrorPoint } from './plot.js';
import { EpochProgress } from './progress.js';
import { combineEvaluations, isMainRank, type DistributedTraining } from './distributed.js';

export interface TrainOptions {
  model: Module;
  spec: ModelSpec;
  trainLoader: DataLoader;
  testLoader?: DataLoader;
  optimizer: SGD;
  scheduler: LRScheduler;
  /** Epochs to run in all (a resumed run counts the ones already done). */
  epochs: number;
  /** Stop after this many iterations in all (default: no limit). */
  maxSteps?: number;
  /** Where the log, checkpoint and chart go; nothing is written without it. */
  outDir?: string;
  resume?: boolean;
  /** How the data was named on the command line (kept in the checkpoint). */
  dataSpec: string;
  /** Iterations per train record in the log (default 10). */
  logEvery?: number;
  /** Show a progress bar / progress lines (default true). */
  progress?: boolean;
  /** Called with every record written to the log. */
  onRecord?: (record: MetricsRecord) => void;
  /** Settings stored in the checkpoint for the record. */
  settings?: Record<string, unknown>;
  /** Label of this run in charts (default the model name). */
  runName?: string;
  /**
   * Mixed precision: the forward pass under rn.autocast in this dtype; 'float16' adds dynamic
   * loss scaling (a GradScaler, kept in the checkpoint). Default: float32.
   */
  amp?: LowPrecision;
  /** Feed the model channels-last (NHWC) batches; pair with model.to({ memoryFormat: 'channelsLast' }). */
  channelsLast?: boolean;
  /**
   * Replay training steps from a CUDA graph (model on the GPU): two eager warm-up steps, then one
   * captured step replayed for every batch of the same shape. See lib/cuda_graph.ts.
   */
  cudaGraph?: boolean;
  /** Data-parallel training (model: the DDP wrapper; loaders: each rank's share). See lib/train/distributed.ts. */
  distributed?: DistributedTraining;
}

export interface EvaluationResult {
  loss: number;
  top1Error: number;
  top5Error?: number;
  images: number;
}

export interface TrainSummary {
  iterations: number;
  epochs: number;
  lastTrain?: TrainRecord;
  lastTest?: TestRecord;
  imagesPerSecond: number;
  seconds: number;
}

/** Top-1 always; top-5 where there are more than five classes. */
function errorRanks(numClasses: number): number[] {
  return numClasses > 5 ? [1, 5] : [1];
}

/** The device the model's parameters live on (batches are moved there). */
function deviceOf(model: Module): Device {
  return model.parameters()[0]?.device ?? 'cpu';
}
/** The batch on `device` (images channels-last when asked); tensors made here belong to the caller's scope. */
function onDevice(batch: Batch, device: Device, channelsLast = false): { images: Tensor; labels: Tensor } {
  const format = channelsLast ? 'channelsLast' : batch.images.memoryFormat;
  if (batch.images.device === device && batch.images.memoryFormat === format) return batch;
  return { images: batch.images.to({ device, memoryFormat: format }), labels: batch.labels.to(device) };
}

/** What the metrics of a step need once its values are read back. */
interface StepRecord {
  epoch: number;
  iteration: number;
  batchInEpoch: number;
  lr: number;
  n: number;
  labels: TransportArray;
}

function release(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
}

/** Loss and top-1 / top-5 error (in percent) of a model over a loader, in evaluation mode. */
export async function evaluate(model: Module, loader: DataLoader, numClasses: number): Promise<EvaluationResult> {
  const wasTraining = model.training;
  const ks = errorRanks(numClasses);
  model.eval();
  const loss = new Average();
  let top1 = 0, top5 = 0, images = 0;
  const device = deviceOf(model);
  try {
    for await (const batch of loader) {
      scope(() => noGrad(() => {
        const b = onDevice(batch, device);
        const logits = model.forward(b.images);
        const n = batch.labels.shape[0]!;
        loss.add(crossEntropy(logits, b.labels).item(), n);
        const [errors1 = 0, errors5 = 0] = topKErrors(logits, batch.labels, ks);
        top1 += errors1;
        top5 += errors5;
        images += n;
      }));
      release(batch);
    }
  } finally {
    model.train(wasTraining);
  }
  return {
    loss: loss.value,
    top1Error: (100 * top1) / images,
    ...(numClasses > 5 ? { top5Error: (100 * top5) / images } : {}),
    images,
  };
}

/** Error curves of one log, as chart points. */
export function errorPoints(records: MetricsRecord[], run: string): ErrorPoint[] {
  return records.map((r) => ({ run, split: r.kind, iteration: r.iteration, error: r.top1Error }));
}

export async function train(o: TrainOptions): Promise<TrainSummary> {
  const logEvery = o.logEvery ?? 10;
  const maxSteps = o.maxSteps ?? Infinity;
  const numClasses = o.spec.numClasses;
  const ks = errorRanks(numClasses);
  const runName = o.runName ?? o.spec.name;
  const main = isMainRank(o.distributed);  // distributed: only rank 0 logs, reports and checkpoints
  const net = o.distributed?.ddp.module ?? o.model;  // distributed: checkpoints hold the wrapped model
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });
  const log = o.outDir && main ? new MetricsLog(join(o.outDir, 'metrics.jsonl')) : null;

  if (o.amp !== undefined && o.amp !== 'bfloat16' && o.amp !== 'float16') {
    throw new TypeError(`train: amp must be 'bfloat16' or 'float16', got ${String(o.amp)}`);
  }
  const scaler = o.amp === 'float16' ? new GradScaler() : null;
  const device = deviceOf(o.model);
  if (o.cudaGraph && device !== 'cuda') throw new TypeError("train: cudaGraph needs the model on the GPU (model.to({ device: 'cuda' }))");
  let epoch = 0, batchInEpoch = 0, iteration = 0;
  if (o.resume) {
    if (!o.outDir) throw new TypeError('train: resume needs outDir (where the checkpoint is)');
    if (!existsSync(checkpointPaths(o.outDir).json)) throw new Error(`train: nothing to resume: ${checkpointPaths(o.outDir).json} does not exist`);
    const state = loadCheckpoint(o.outDir, net, o.optimizer, o.scheduler);
    if (state.model.name !== o.spec.name) throw new Error(`train: the checkpoint holds ${state.model.name}, not ${o.spec.name}`);
    if (scaler && state.scaler) scaler.loadStateDict(state.scaler);
    ({ epoch, batchInEpoch, iteration } = state);
  }
  log?.open(o.resume ? iteration : undefined);
  const emit = (record: MetricsRecord) => {
    if (!main) return;
    log?.append(record);
    o.onRecord?.(record);
  };

  // On the GPU the scaler keeps its state there, so that a step reads nothing back (and can be
  // captured in a CUDA graph).
  if (scaler && device === 'cuda') scaler.useDeviceState(device);
  /** One step's GPU work on a batch on the device: forward, loss, backward, optimizer. */
  const stepBody = (images: Tensor, labels: Tensor): StepOutputs => {
    o.optimizer.zeroGrad();
    const logits = autocast({ dtype: o.amp ?? 'bfloat16', enabled: o.amp !== undefined }, () => o.model.forward(images));
    const loss = crossEntropy(logits, labels, { checkLabels: false });  // GPU labels: checked on the host in the loop
    if (scaler) {
      scaler.scale(loss).backward();
      scaler.step(o.optimizer);
      scaler.update();
    } else {
      loss.backward();
      o.optimizer.step();
    }
    return { loss, logits };
  };
  const graphed = o.cudaGraph ? new GraphedSteps(stepBody, numClasses) : null;
  const started = performance.now();
  let imagesSeen = 0;
  let lastTrain: TrainRecord | undefined;
  let lastTest: TestRecord | undefined;
  const windowLoss = new Average(), windowTop1 = new Average(), windowTop5 = new Average();
  let windowStart = performance.now(), windowImages = 0;

  const checkpoint = () => {
    if (!o.outDir || !main) return;
    saveCheckpoint(o.outDir, net, o.optimizer, o.scheduler, {
      model: o.spec, epoch, batchInEpoch, iteration,
      data: { spec: o.dataSpec, seed: o.trainLoader.seed, batchSize: o.trainLoader.batchSize },
      settings: o.settings ?? {},
      ...(scaler ? { scaler: scaler.stateDict() } : {}),
    });
  };

  try {
    while (epoch < o.epochs && iteration < maxSteps) {
      o.model.train();
      o.trainLoader.setEpoch(epoch, batchInEpoch);
      const progress = new EpochProgress(`epoch ${epoch + 1}/${o.epochs}`, o.trainLoader.length, process.stderr, (o.progress ?? true) && main);
      /** The metrics of one step, counted once its loss and logits are read back. */
      const account = (step: StepRecord, lossValue: number, logits: Float32Array): void => {
        windowLoss.add(lossValue, step.n);
        const [errors1 = 0, errors5 = 0] = topKErrorsOf(logits, step.labels, numClasses, ks);
        windowTop1.add((100 * errors1) / step.n, step.n);
        if (numClasses > 5) windowTop5.add((100 * errors5) / step.n, step.n);
        windowImages += step.n;
        const elapsed = (performance.now() - windowStart) / 1000;
        progress.update(step.batchInEpoch, { loss: windowLoss.value, error: windowTop1.value, imagesPerSecond: windowImages / elapsed, lr: step.lr });
        if (step.iteration % logEvery === 0 || step.batchInEpoch === o.trainLoader.length || step.iteration >= maxSteps) {
          lastTrain = {
            kind: 'train', epoch: step.epoch, iteration: step.iteration, loss: windowLoss.value, top1Error: windowTop1.value,
            ...(numClasses > 5 ? { top5Error: windowTop5.value } : {}),
            lr: step.lr, imagesPerSecond: windowImages / elapsed, time: new Date().toISOString(),
          };
          emit(lastTrain);
          for (const a of [windowLoss, windowTop1, windowTop5]) a.reset();
          windowStart = performance.now();
          windowImages = 0;
        }
      };
      // A step's loss and logits are read back asynchronously and counted after the next step has
      // been queued, so on the GPU the host never waits for the step it has just queued.
      let pending: Promise<void> | null = null;
      const settle = async () => {
        const p = pending;
        pending = null;
        if (p) await p;
      };
      try {
        for await (const batch of o.trainLoader) {
          const n = batch.labels.shape[0]!;
          const labels = batch.labels.toArray();
        if (device === 'cuda') checkLabelValues(labels, numClasses);  // the GPU loss does not check them (no read-back)
          let reads: Promise<[TransportArray, TransportArray]> | undefined;
          scope(() => {
            const b = onDevice(batch, device, o.channelsLast);
            const { loss, logits } = graphed ? graphed.run(b.images, b.labels, labels) : stepBody(b.images, b.labels);
            reads = Promise.all([loss.data(), logits.data()]);
          });
          release(batch);
          const lr = o.optimizer.paramGroups[0]!.lr;
          o.scheduler.step();
          iteration++;
          batchInEpoch++;
          imagesSeen += n;
          const step: StepRecord = { epoch, iteration, batchInEpoch, lr, n, labels };
          await settle();
          pending = reads!.then(([lossValue, logits]) => account(step, Number(lossValue[0]), logits as Float32Array));
          if (iteration >= maxSteps) break;
        }
        await settle();
      } finally {
        await settle().catch(() => undefined);
        progress.stop();
      }
      if (batchInEpoch >= o.trainLoader.length) {
        epoch++;
        batchInEpoch = 0;
      }
      if (o.testLoader) {
        const local = await evaluate(o.model, o.testLoader, numClasses);
        const result = o.distributed ? combineEvaluations(local) : local;
        lastTest = {
          kind: 'test', epoch: batchInEpoch === 0 ? epoch - 1 : epoch, iteration, loss: result.loss, top1Error: result.top1Error,
          ...(result.top5Error !== undefined ? { top5Error: result.top5Error } : {}), time: new Date().toISOString(),
        };
        emit(lastTest);
      }
      checkpoint();
      if (o.outDir && log) await writeErrorChart(join(o.outDir, 'errors.svg'), errorPoints(log.read(), runName), `${runName}: top-1 error`);
      windowStart = performance.now();
    }
  } finally {
    graphed?.dispose();
    scaler?.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return { iterations: iteration, epochs: epoch, lastTrain, lastTest, imagesPerSecond: imagesSeen / seconds, seconds };
}
