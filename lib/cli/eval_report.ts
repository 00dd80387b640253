// What `eval` adds to the loss and error rates: the per-class accuracy table and the confusion
// matrix, printed (on stderr: stdout stays one JSON line) and drawn as confusion.svg beside the
// checkpoint.
import { dirname, join } from 'node:path';
import type { DataLoader } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import { ConfusionMatrix, type ClassAccuracy } from '../train/confusion.js';
import { writeConfusionChart } from '../train/confusion_plot.js';
import { evaluate, type EvaluationResult } from '../train/evaluate.js';

export interface EvalReport {
  perClass: ClassAccuracy[];
  /** Rows: true class, columns: predicted. */
  confusionMatrix: number[][];
  confusionSvg: string;
}

export async function evaluateWithConfusion(model: Module, loader: DataLoader, numClasses: number, classNames: readonly string[] | undefined,
  checkpoint: string, say: (line: string) => void, topk?: readonly number[]): Promise<{ result: EvaluationResult; report: EvalReport }> {
  const matrix = new ConfusionMatrix(numClasses);
  const result = await evaluate(model, loader, numClasses, topk, (logits, labels) => matrix.add(logits, labels));
  const folder = checkpoint.endsWith('.json') ? dirname(checkpoint) : checkpoint;
  const confusionSvg = join(folder, 'confusion.svg');
  await writeConfusionChart(confusionSvg, matrix, `confusion matrix (${matrix.images} images)`, classNames);
  say(matrix.format(classNames));
  say(`confusion matrix chart: ${confusionSvg}`);
  const perClass = matrix.perClass(classNames);
  const confusionMatrix = perClass.map((r) => Array.from(matrix.counts.subarray(r.index * numClasses, (r.index + 1) * numClasses)));
  return { result, report: { perClass, confusionMatrix, confusionSvg } };
}
