// The confusion matrix of a classifier on a labelled set, and the per-class accuracy it implies.
// Rows are the true classes, columns the predicted ones (the arg max of the logits, ties to the
// lower index, the rule of the top-1 error).
import type { Tensor } from '../tensor.js';

export interface ClassAccuracy {
  index: number;
  name: string;
  images: number;
  correct: number;
  /** correct / images in percent; NaN for a class with no images. */
  accuracy: number;
}

export class ConfusionMatrix {
  readonly numClasses: number;
  /** (numClasses, numClasses), row-major: counts[true * numClasses + predicted]. */
  readonly counts: Float64Array;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`ConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    this.numClasses = numClasses;
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Counts one batch: logits (N, classes), labels (N). */
  add(logits: Tensor, labels: Tensor): void {
    const [n, classes] = logits.shape as [number, number];
    if (logits.ndim !== 2 || classes !== this.numClasses) {
      throw new RangeError(`ConfusionMatrix.add: logits must be (N, ${this.numClasses}), got [${logits.shape}]`);
    }
    if (labels.shape.length !== 1 || labels.shape[0] !== n) throw new RangeError(`ConfusionMatrix.add: labels must be (${n}), got [${labels.shape}]`);
    this.addValues(logits.toArray('float32'), labels.toArray('float32'));
  }

  /** add() on values already read: logits (N * classes, row-major), labels (N). */
  addValues(logits: Float32Array, labels: ArrayLike<number>): void {
    const c = this.numClasses;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (!Number.isInteger(label) || label < 0 || label >= c) throw new RangeError(`ConfusionMatrix: label ${label} is outside [0, ${c})`);
      let predicted = 0;
      for (let j = 1; j < c; j++) if (logits[i * c + j]! > logits[i * c + predicted]!) predicted = j;
      this.counts[label * c + predicted]!++;
    }
  }

  get images(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  perClass(classNames?: readonly string[]): ClassAccuracy[] {
    const c = this.numClasses;
    return Array.from({ length: c }, (_, index) => {
      let images = 0;
      for (let j = 0; j < c; j++) images += this.counts[index * c + j]!;
      const correct = this.counts[index * c + index]!;
      return { index, name: classNames?.[index] ?? String(index), images, correct, accuracy: images ? (100 * correct) / images : NaN };
    });
  }

  /** A text table: one line per class (images, correct, accuracy), then the matrix itself when it is small enough to read. */
  format(classNames?: readonly string[], maxMatrixClasses = 20): string {
    const rows = this.perClass(classNames);
    const width = Math.max(5, ...rows.map((r) => r.name.length));
    const lines = [`${'class'.padEnd(width)}  images  correct  accuracy`, `${'-'.repeat(width)}  ------  -------  --------`];
    for (const r of rows) {
      lines.push(`${r.name.padEnd(width)}  ${String(r.images).padStart(6)}  ${String(r.correct).padStart(7)}  ${(Number.isNaN(r.accuracy) ? '-' : `${r.accuracy.toFixed(2)}%`).padStart(8)}`);
    }
    const c = this.numClasses;
    if (c <= maxMatrixClasses) {
      const cell = Math.max(4, ...Array.from(this.counts, (v) => String(v).length)) + 1;
      lines.push('', `confusion matrix (rows: true class, columns: predicted)`);
      lines.push(`${''.padEnd(width)} ${rows.map((r) => String(r.index).padStart(cell)).join('')}`);
      for (const r of rows) {
        lines.push(`${r.name.padEnd(width)} ${Array.from(this.counts.subarray(r.index * c, (r.index + 1) * c), (v) => String(v).padStart(cell)).join('')}`);
      }
    }
    return lines.join('\n');
  }
}
