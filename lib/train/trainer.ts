// The training loop: epochs over a DataLoader with loss, top-k error, images per second, a
// progress bar, a JSONL metrics log, test-set evaluation, checkpoints (written atomically), the
// best checkpoint by test error, early stopping, ReduceLROnPlateau and the error chart, all in
// `outDir`. With `resume`, the run continues from the checkpoint in outDir: same weights,
// optimizer, schedule, plateau and best-so-far state, same data order.
// The parts live beside it, each readable and testable alone: train_step.ts (one step's work),
// train_log.ts (train records from the steps), test_phase.ts (the evaluation after an epoch, best
// checkpoint, plateau, patience), checkpoint.ts, evaluate.ts (evaluation, batch helpers),
// train_window.ts (the metrics of the steps between records), early_stop.ts, progress.ts.
import { join } from 'node:path';
import { mkdirSync, existsSync } from 'node:fs';
import type { DataLoader } from '../data/loader.js';
import { scope } from '../memory.js';
import type { ModelSpec } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { checkLabelValues } from '../ops/loss.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { ReduceLROnPlateau } from '../optim/plateau.js';
import type { LRScheduler } from '../optim/schedules.js';
import { checkpointPaths, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { LowPrecision } from '../amp/autocast.js';
import { GradScaler } from '../amp/grad_scaler.js';
import type { TransportArray } from '../binding.js';
import { TestTracker, type BestState } from './early_stop.js';
import { deviceOf, onDevice, release, topKList } from './evaluate.js';
import { GraphedSteps } from './graph_steps.js';
import { MetricsLog, type MetricsRecord, type TestRecord, type TrainRecord } from './metrics_log.js';
import { testPhase, type TestPhaseOptions } from './test_phase.js';
import { TrainLog } from './train_log.js';
import { trainStep } from './train_step.js';
import { writeErrorChart, type ErrorPoint } from './plot.js';
import { EpochProgress } from './progress.js';
import { TrainWindow, type StepRecord } from './train_window.js';

export { evaluate, type EvaluationResult } from './evaluate.js';
import { combineEvaluations, isMainRank, type DistributedTraining } from './distributed.js';

export interface TrainOptions {
  model: Module;
  spec: ModelSpec;
  trainLoader: DataLoader;
  testLoader?: DataLoader;
  optimizer: Optimizer;
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
  /** Called with a sentence when the run stops early, reduces the learning rate or saves a best checkpoint. */
  onEvent?: (line: string) => void;
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
  /** The top-k errors to report besides top-1 (default: top-5 where there are more than five classes). */
  topk?: number[];
  /** After each evaluation with a lower test top-1 error than before, also write best.json / best.safetensors. */
  saveBest?: boolean;
  /** Stop after this many test evaluations (one per epoch) without a lower top-1 error. */
  patience?: number;
  /** Stepped with the test loss after each evaluation. */
  plateau?: ReduceLROnPlateau;
  /** Data-parallel training (model: the DDP wrapper; loaders: each rank's share). See lib/train/distributed.ts. */
  distributed?: DistributedTraining;
}

export interface TrainSummary {
  iterations: number;
  /** Epochs done, counting a partial one as its fraction (0.5: half of one epoch). */
  epochs: number;
  lastTrain?: TrainRecord;
  lastTest?: TestRecord;
  /** The best test evaluation (with saveBest, patience or a test loader). */
  best?: BestState;
  /** True when patience ran out before the planned end. */
  stoppedEarly: boolean;
  /** Training images per second, over the time spent in training steps (evaluation and checkpoints excluded). */
  imagesPerSecond: number;
  /** Wall-clock seconds of the whole call. */
  seconds: number;
}

/** Error curves of one log, as chart points. */
export function errorPoints(records: MetricsRecord[], run: string): ErrorPoint[] {
  return records.map((r) => ({ run, split: r.kind, iteration: r.iteration, error: r.top1Error }));
}

/** The iterations the run will do in all: the smaller of the epochs' and maxSteps. */
export function plannedSteps(epochs: number, batchesPerEpoch: number, maxSteps = Infinity): number {
  return Math.min(epochs * batchesPerEpoch, maxSteps);
}

function checkOptions(o: TrainOptions): void {
  if (o.amp !== undefined && o.amp !== 'bfloat16' && o.amp !== 'float16') {
    throw new TypeError(`train: amp must be 'bfloat16' or 'float16', got ${String(o.amp)}`);
  }
  if (o.cudaGraph && deviceOf(o.model) !== 'cuda') throw new TypeError("train: cudaGraph needs the model on the GPU (model.to({ device: 'cuda' }))");
  if (!o.testLoader) {
    for (const [flag, on] of [['saveBest', o.saveBest], ['patience', o.patience !== undefined], ['plateau', o.plateau !== undefined]] as const) {
      if (on) throw new TypeError(`train: ${flag} follows the test error, and there is no test data (testLoader)`);
    }
  }
  if (o.resume && !o.outDir) throw new TypeError('train: resume needs outDir (where the checkpoint is)');
  if (o.saveBest && !o.outDir) throw new TypeError('train: saveBest needs outDir (where best.json goes)');
}

/** Where a run is: epochs done, batches done in the current one, iterations in all. */
interface Position {
  epoch: number;
  batchInEpoch: number;
  iteration: number;
}

/** The model the checkpoints hold: distributed, the one the DDP wrapper wraps. */
function trainedNet(o: TrainOptions): Module {
  return o.distributed?.ddp.module ?? o.model;
}

/** Writes the run's checkpoint (or `best`) into o.outDir: weights, optimizer, schedule, position and the states beside them. */
function saveRun(o: TrainOptions, at: Position, scaler: GradScaler | null, tracker: TestTracker, name = 'checkpoint'): void {
  if (!o.outDir || !isMainRank(o.distributed)) return;  // distributed: rank 0 checkpoints
  saveCheckpoint(o.outDir, trainedNet(o), o.optimizer, o.scheduler, {
    model: o.spec, ...at,
    data: { spec: o.dataSpec, seed: o.trainLoader.seed, batchSize: o.trainLoader.batchSize, imageShape: [...o.trainLoader.dataset.imageShape] as [number, number, number] },
    settings: o.settings ?? {},
    ...(scaler ? { scaler: scaler.stateDict() } : {}),
    ...(o.plateau ? { plateau: o.plateau.stateDict() } : {}),
    ...(tracker.best ? { best: { ...tracker.best } } : {}),
  }, name);
}

/** Restores model, optimizer, schedule, scaler, plateau and best-so-far from o.outDir's checkpoint; the position it was at. */
function resumeRun(o: TrainOptions, scaler: GradScaler | null, tracker: TestTracker): Position {
  const outDir = o.outDir!;
  if (!existsSync(checkpointPaths(outDir).json)) throw new Error(`train: nothing to resume: ${checkpointPaths(outDir).json} does not exist`);
  const state = loadCheckpoint(outDir, trainedNet(o), o.optimizer, o.scheduler);
  if (state.model.name !== o.spec.name) throw new Error(`train: the checkpoint holds ${state.model.name}, not ${o.spec.name}`);
  if (scaler && state.scaler) scaler.loadStateDict(state.scaler);
  if (o.plateau && state.plateau) o.plateau.loadStateDict(state.plateau);
  if (state.best) tracker.best = { ...state.best };
  return { epoch: state.epoch, batchInEpoch: state.batchInEpoch, iteration: state.iteration };
}

export async function train(o: TrainOptions): Promise<TrainSummary> {
  checkOptions(o);
  const logEvery = o.logEvery ?? 10;
  const maxSteps = o.maxSteps ?? Infinity;
  const numClasses = o.spec.numClasses;
  const ks = topKList(o.topk, numClasses);
  const runName = o.runName ?? o.spec.name;
  const main = isMainRank(o.distributed);  // distributed: only rank 0 logs, reports and checkpoints
  const say = (line: string) => { if (main) o.onEvent?.(line); };
  const batchesPerEpoch = o.trainLoader.length;
  const totalSteps = plannedSteps(o.epochs, batchesPerEpoch, maxSteps);
  const plannedEpochs = Math.ceil(totalSteps / batchesPerEpoch);
  const scaler = o.amp === 'float16' ? new GradScaler() : null;
  const device = deviceOf(o.model);
  const tracker = new TestTracker(o.patience);
  const at: Position = o.resume ? resumeRun(o, scaler, tracker) : { epoch: 0, batchInEpoch: 0, iteration: 0 };
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });
  const log = o.outDir ? new MetricsLog(join(o.outDir, 'metrics.jsonl')) : null;
  log?.open(o.resume ? at.iteration : undefined);
  const emit = (record: MetricsRecord) => {
    if (!main) return;
    log?.append(record);
    o.onRecord?.(record);
  };

  // On the GPU the scaler keeps its state there, so that a step reads nothing back (and can be
  // captured in a CUDA graph).
  if (scaler && device === 'cuda') scaler.useDeviceState(device);
  const stepBody = trainStep(o.model, o.optimizer, o.amp, scaler);
  const graphed = o.cudaGraph ? new GraphedSteps(stepBody, numClasses) : null;
  const trainLog = new TrainLog(new TrainWindow(ks, numClasses), { logEvery, batchesPerEpoch, maxSteps, emit });
  const testPhaseOptions: TestPhaseOptions | null = o.testLoader ? {
    model: o.model, testLoader: o.testLoader, numClasses, topk: ks, tracker, optimizer: o.optimizer, emit,
    ...(o.plateau ? { plateau: o.plateau } : {}),
    ...(o.saveBest ? { saveBest: { outDir: o.outDir!, save: () => saveRun(o, at, scaler, tracker, 'best') } } : {}),
    // Distributed: each rank evaluated its share; every rank takes the same decisions from the whole.
    ...(o.distributed ? { combine: combineEvaluations } : {}),
    onEvent: say,
  } : null;
  const started = performance.now();
  let imagesSeen = 0, trainMilliseconds = 0, stoppedEarly = false;
  let lastTest: TestRecord | undefined;

  try {
    while (at.epoch < o.epochs && at.iteration < maxSteps) {
      o.model.train();
      o.trainLoader.setEpoch(at.epoch, at.batchInEpoch);
      const stepsThisEpoch = Math.min(batchesPerEpoch, at.batchInEpoch + (totalSteps - at.iteration));
      const progress = new EpochProgress(`epoch ${at.epoch + 1}/${plannedEpochs}`, stepsThisEpoch, process.stderr, (o.progress ?? true) && main, at.batchInEpoch);
      // A step's loss and logits are read back asynchronously and counted after the next step has
      // been queued, so on the GPU the host never waits for the step it has just queued.
      let pending: Promise<void> | null = null;
      const settle = async () => {
        const p = pending;
        pending = null;
        if (p) await p;
      };
      const epochStarted = performance.now();
      try {
        for await (const batch of o.trainLoader) {
          const startedAt = performance.now();
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
          at.iteration++;
          at.batchInEpoch++;
          imagesSeen += n;
          const step: StepRecord = { epoch: at.epoch, iteration: at.iteration, batchInEpoch: at.batchInEpoch, lr, n, labels, startedAt };
          await settle();
          pending = reads!.then(([lossValue, logits]) => void trainLog.account(step, Number(lossValue[0]), logits as Float32Array, progress));
          if (at.iteration >= maxSteps) break;
        }
        await settle();
      } finally {
        await settle().catch(() => undefined);
        trainMilliseconds += performance.now() - epochStarted;
        progress.stop();
      }
      if (at.batchInEpoch >= batchesPerEpoch) {
        at.epoch++;
        at.batchInEpoch = 0;
      }
      if (testPhaseOptions) {
        const evaluated = await testPhase(testPhaseOptions, at.batchInEpoch === 0 ? at.epoch - 1 : at.epoch, at.iteration);
        lastTest = evaluated.record;
        stoppedEarly = evaluated.stop;
      }
      saveRun(o, at, scaler, tracker);
      if (o.outDir && log) await writeErrorChart(join(o.outDir, 'errors.svg'), errorPoints(log.read(), runName), `${runName}: top-1 error`);
      if (stoppedEarly) break;
    }
  } finally {
    graphed?.dispose();
    scaler?.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    iterations: at.iteration, epochs: Number(((at.epoch * batchesPerEpoch + at.batchInEpoch) / batchesPerEpoch).toFixed(3)),
    lastTrain: trainLog.last, lastTest, ...(tracker.best ? { best: { ...tracker.best } } : {}), stoppedEarly,
    imagesPerSecond: trainMilliseconds > 0 ? imagesSeen / (trainMilliseconds / 1000) : 0, seconds,
  };
}
