// The training side of the log: each step's loss and logits (once read back) go into the window
// and the progress bar; every `logEvery` iterations, at the end of an epoch and at the last step,
// the window becomes a train record.
import type { TrainRecord } from './metrics_log.js';
import type { EpochProgress } from './progress.js';
import type { StepRecord, TrainWindow } from './train_window.js';

export interface TrainLogOptions {
  logEvery: number;
  batchesPerEpoch: number;
  maxSteps: number;
  /** Receives each train record. */
  emit: (record: TrainRecord) => void;
}

export class TrainLog {
  /** The latest train record. */
  last: TrainRecord | undefined;

  constructor(readonly window: TrainWindow, readonly o: TrainLogOptions) {}

  /** Counts one step; returns the record it completed, if any. */
  account(step: StepRecord, lossValue: number, logits: Float32Array, progress: EpochProgress): TrainRecord | undefined {
    const w = this.window;
    w.add(step, lossValue, logits);
    progress.update(step.batchInEpoch, { loss: w.loss, error: w.errors.top1Error, imagesPerSecond: w.imagesPerSecond, lr: step.lr });
    const due = step.iteration % this.o.logEvery === 0 || step.batchInEpoch === this.o.batchesPerEpoch || step.iteration >= this.o.maxSteps;
    if (!due) return undefined;
    this.last = {
      kind: 'train', epoch: step.epoch, iteration: step.iteration, loss: w.loss, ...w.errors,
      lr: step.lr, imagesPerSecond: w.imagesPerSecond, time: new Date().toISOString(),
    };
    this.o.emit(this.last);
    w.reset();
    return this.last;
  }
}
