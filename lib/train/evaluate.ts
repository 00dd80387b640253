// Evaluation of a model over a loader (loss and top-k errors, in evaluation mode), and the
// batch helpers the training loop shares with it.
import { noGrad } from '../autograd.js';
import type { Batch, DataLoader } from '../data/loader.js';
import { scope } from '../memory.js';
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../ops/loss.js';
import type { Device, Tensor } from '../tensor.js';
import { Average, topKErrors } from './metrics.js';

/** Top-k errors in percent: top1Error always, then one field per reported k (top5Error ...). */
export type TopKErrors = { top1Error: number } & { [key: `top${number}Error`]: number | undefined };

export type EvaluationResult = { loss: number; images: number } & TopKErrors;

/** The ranks reported by default: top-1, and top-5 where there are more than five classes. */
export function defaultTopK(numClasses: number): number[] {
  return numClasses > 5 ? [1, 5] : [1];
}

/** The ranks to count: 1 first, then the others asked for, each once; each at most numClasses. */
export function topKList(topk: readonly number[] | undefined, numClasses: number, who = 'train'): number[] {
  const ks = topk ?? defaultTopK(numClasses);
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`${who}: top-k ranks must be positive integers, got ${k}`);
    if (k > numClasses) throw new RangeError(`${who}: top-${k} error needs at least ${k} classes; the data has ${numClasses}`);
  }
  return [...new Set([1, ...ks])];
}

/** { top1Error, top5Error, ... } from error counts (one per k) over `n` images. */
export function topKFields(ks: readonly number[], errors: readonly number[], n: number): TopKErrors {
  const fields: Record<string, number> = {};
  ks.forEach((k, i) => (fields[`top${k}Error`] = (100 * errors[i]!) / n));
  return fields as TopKErrors;
}

/** The device the model's parameters live on (batches are moved there). */
export function deviceOf(model: Module): Device {
  return model.parameters()[0]?.device ?? 'cpu';
}

/** The batch on `device` (images channels-last when asked); tensors made here belong to the caller's scope. */
export function onDevice(batch: Batch, device: Device, channelsLast = false): { images: Tensor; labels: Tensor } {
  const format = channelsLast ? 'channelsLast' : batch.images.memoryFormat;
  if (batch.images.device === device && batch.images.memoryFormat === format) return batch;
  return { images: batch.images.to({ device, memoryFormat: format }), labels: batch.labels.to(device) };
}

export function release(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
}

/**
 * Loss and top-k errors (in percent; default top-1 and top-5) of a model over a loader, in evaluation mode.
 * `observe`, when given, sees each batch's logits and labels (the eval command's confusion matrix).
 */
export async function evaluate(model: Module, loader: DataLoader, numClasses: number, topk?: readonly number[],
  observe?: (logits: Tensor, labels: Tensor) => void): Promise<EvaluationResult> {
  const wasTraining = model.training;
  const ks = topKList(topk, numClasses, 'evaluate');
  model.eval();
  const loss = new Average();
  const errors = ks.map(() => 0);
  let images = 0;
  const device = deviceOf(model);
  try {
    for await (const batch of loader) {
      scope(() => noGrad(() => {
        const b = onDevice(batch, device);
        const logits = model.forward(b.images);
        observe?.(logits, batch.labels);
        const n = batch.labels.shape[0]!;
        loss.add(crossEntropy(logits, b.labels).item(), n);
        topKErrors(logits, batch.labels, ks).forEach((e, i) => (errors[i]! += e));
        images += n;
      }));
      release(batch);
    }
  } finally {
    model.train(wasTraining);
  }
  return { loss: loss.value, images, ...topKFields(ks, errors, images) };
}
