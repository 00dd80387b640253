// Classification metrics from logits: top-k error counts, and running averages.
import type { Tensor } from '../tensor.js';

/**
 * For each k in ks, the number of rows whose label is not among the k largest logits, from one
 * read of the logits. logits: (N, K), labels: (N).
 */
export function topKErrors(logits: Tensor, labels: Tensor, ks: readonly number[]): number[] {
  const [, classes] = logits.shape as [number, number];
  return topKErrorsOf(logits.toArray() as Float32Array, labels.toArray(), classes, ks);
}

/** topKErrors on values already read: logits (N * classes, row-major) and labels (N). */
export function topKErrorsOf(values: Float32Array, targets: ArrayLike<number | bigint>, classes: number, ks: readonly number[]): number[] {
  for (const k of ks) if (k > classes) throw new RangeError(`topKErrors: k (${k}) exceeds the number of classes (${classes})`);
  const n = values.length / classes;
  const errors = ks.map(() => 0);
  for (let i = 0; i < n; i++) {
    const label = Number(targets[i]);
    const target = values[i * classes + label]!;
    let above = 0;  // classes ranked before the label (ties broken by index)
    for (let j = 0; j < classes; j++) {
      const v = values[i * classes + j]!;
      if (v > target || (v === target && j < label)) above++;
    }
    ks.forEach((k, slot) => {
      if (above >= k) errors[slot]!++;
    });
  }
  return errors;
}

/** Sums and counts for averaging a quantity over batches of different sizes. */
export class Average {
  #sum = 0;
  #count = 0;
  add(value: number, weight = 1): void {
    this.#sum += value * weight;
    this.#count += weight;
  }
  get value(): number {
    return this.#count === 0 ? NaN : this.#sum / this.#count;
  }
  get count(): number {
    return this.#count;
  }
  reset(): void {
    this.#sum = 0;
    this.#count = 0;
  }
}
