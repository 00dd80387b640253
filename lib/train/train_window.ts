// The metrics of the training steps since the last train record: loss, top-k errors, and images
// per second over a real interval (from the start of the window's first step to the moment the
// last step's results were read back, so gaps for evaluation or checkpoints are not counted).
import type { TransportArray } from '../binding.js';
import { Average, topKErrorsOf } from './metrics.js';
import type { TopKErrors } from './evaluate.js';

/** What the metrics of a step need once its values are read back. */
export interface StepRecord {
  epoch: number;
  iteration: number;
  batchInEpoch: number;
  lr: number;
  n: number;
  labels: TransportArray;
  /** performance.now() when the step began. */
  startedAt: number;
}

export class TrainWindow {
  readonly #ks: readonly number[];
  readonly #numClasses: number;
  readonly #loss = new Average();
  readonly #errors: Average[];
  #start = 0;
  #images = 0;
  #end = 0;

  constructor(ks: readonly number[], numClasses: number) {
    this.#ks = ks;
    this.#numClasses = numClasses;
    this.#errors = ks.map(() => new Average());
  }

  /** Counts a step whose loss and logits (N * classes) have just been read back. */
  add(step: StepRecord, lossValue: number, logits: Float32Array): void {
    if (this.#images === 0) this.#start = step.startedAt;
    this.#loss.add(lossValue, step.n);
    topKErrorsOf(logits, step.labels, this.#numClasses, this.#ks).forEach((e, i) => this.#errors[i]!.add((100 * e) / step.n, step.n));
    this.#images += step.n;
    this.#end = performance.now();
  }

  get loss(): number {
    return this.#loss.value;
  }

  get errors(): TopKErrors {
    const fields: Record<string, number> = {};
    this.#ks.forEach((k, i) => (fields[`top${k}Error`] = this.#errors[i]!.value));
    return fields as TopKErrors;
  }

  get imagesPerSecond(): number {
    const seconds = (this.#end - this.#start) / 1000;
    return seconds > 0 ? this.#images / seconds : 0;
  }

  reset(): void {
    this.#loss.reset();
    for (const a of this.#errors) a.reset();
    this.#images = 0;
  }
}
