// The JSONL metrics log: one JSON object per line, appended as training goes, read back for
// plots and for resuming.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { TopKErrors } from './evaluate.js';

/** Top-k errors in percent: top1Error, and top5Error (or the ranks asked for with topk). */
export type TrainRecord = {
  kind: 'train';
  epoch: number;
  iteration: number;
  loss: number;
  lr: number;
  /** Over the interval from the start of the record's first step to the read-back of its last. */
  imagesPerSecond: number;
  time: string;
} & TopKErrors;
export type TestRecord = {
  kind: 'test';
  epoch: number;
  iteration: number;
  loss: number;
  time: string;
} & TopKErrors;
export type MetricsRecord = TrainRecord | TestRecord;

export class MetricsLog {
  constructor(readonly path: string) {}

  /** Starts a new log, or keeps the lines up to `iteration` when resuming from there. */
  open(resumeFromIteration?: number): void {
    if (resumeFromIteration === undefined || !existsSync(this.path)) {
      writeFileSync(this.path, '');
      return;
    }
    const kept = this.read().filter((r) => r.iteration <= resumeFromIteration);
    writeFileSync(this.path, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  append(record: MetricsRecord): void {
    appendFileSync(this.path, JSON.stringify(record) + '\n');
  }

  read(): MetricsRecord[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line, i) => {
        try {
          return JSON.parse(line) as MetricsRecord;
        } catch {
          throw new Error(`${this.path}: line ${i + 1} is not JSON`);
        }
      });
  }
}
