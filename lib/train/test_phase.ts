// The evaluation after each epoch: test loss and errors as a test record, the best-so-far and
// patience bookkeeping (TestTracker), the best checkpoint, and the plateau schedule, each with
// its sentence for onEvent.
import { join } from 'node:path';
import type { DataLoader } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { ReduceLROnPlateau } from '../optim/plateau.js';
import type { TestTracker } from './early_stop.js';
import { evaluate, type EvaluationResult } from './evaluate.js';
import type { TestRecord } from './metrics_log.js';

export interface TestPhaseOptions {
  model: Module;
  testLoader: DataLoader;
  numClasses: number;
  topk: readonly number[];
  tracker: TestTracker;
  optimizer: Optimizer;
  plateau?: ReduceLROnPlateau;
  /** Write best.json / best.safetensors (into outDir) after an improvement. */
  saveBest?: { outDir: string; save: () => void };
  /** Turns this process's evaluation into the whole run's (distributed: combined over the ranks). */
  combine?: (local: EvaluationResult) => EvaluationResult;
  /** Receives the test record before anything else happens. */
  emit: (record: TestRecord) => void;
  onEvent?: (line: string) => void;
}

/** Evaluates at (epoch, iteration); the record, and stop: true when patience is spent. */
export async function testPhase(o: TestPhaseOptions, epoch: number, iteration: number): Promise<{ record: TestRecord; stop: boolean }> {
  const local = await evaluate(o.model, o.testLoader, o.numClasses, o.topk);
  const { loss, images: _images, ...errors } = o.combine ? o.combine(local) : local;
  const record: TestRecord = { kind: 'test', epoch, iteration, loss, ...errors, time: new Date().toISOString() };
  o.emit(record);
  const { improved, stop } = o.tracker.observe(record);
  if (improved && o.saveBest) {
    o.saveBest.save();
    o.onEvent?.(`best so far: top-1 error ${record.top1Error.toFixed(2)}% at iteration ${iteration}; saved ${join(o.saveBest.outDir, 'best.json')}`);
  }
  if (o.plateau?.step(loss)) {
    const n = o.plateau.patience + 1;
    o.onEvent?.(`plateau: the test loss did not improve for ${n} evaluation${n === 1 ? '' : 's'}; learning rate now ${o.optimizer.paramGroups[0]!.lr.toPrecision(3)}`);
  }
  if (stop) {
    const best = o.tracker.best!;
    o.onEvent?.(`early stop: no lower test error in ${best.evaluationsSinceBest} evaluations (patience ${o.tracker.patience}); best ${best.top1Error.toFixed(2)}% at iteration ${best.iteration}`);
  }
  return { record, stop };
}
