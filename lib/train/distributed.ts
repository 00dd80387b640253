// What the training loop does differently in a data-parallel run: rank 0 alone logs, reports
// and checkpoints (the others train in step with it), and evaluation results are combined over
// the ranks, each of which evaluated its own share of the test set.
import { allReduceNumbers } from '../distributed/collectives.js';
import type { ProcessGroup } from '../distributed/group.js';
import type { DistributedDataParallel } from '../nn/distributed_data_parallel.js';
import type { EvaluationResult } from './trainer.js';

export interface DistributedTraining {
  group: ProcessGroup;
  /** The model being trained, wrapped; checkpoints hold ddp.module's weights (no 'module.' prefix). */
  ddp: DistributedDataParallel;
}

/** Rank 0 logs, prints and writes checkpoints; every rank when training alone. */
export function isMainRank(distributed: DistributedTraining | undefined): boolean {
  return !distributed || distributed.group.rank === 0;
}

/** The evaluation of the whole test set from each rank's evaluation of its share (exact: sums of counts). */
export function combineEvaluations(local: EvaluationResult): EvaluationResult {
  const [lossSum, top1Errors, top5Errors, images] = allReduceNumbers(
    [local.loss * local.images, (local.top1Error * local.images) / 100, ((local.top5Error ?? 0) * local.images) / 100, local.images],
    { op: 'sum' },
  ) as [number, number, number, number];
  return {
    loss: lossSum / images,
    top1Error: (100 * top1Errors) / images,
    ...(local.top5Error !== undefined ? { top5Error: (100 * top5Errors) / images } : {}),
    images,
  };
}
