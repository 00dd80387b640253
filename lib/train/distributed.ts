// What the training loop does differently in a data-parallel run: rank 0 alone logs, reports
// and checkpoints (the others train in step with it), and evaluation results are combined over
// the ranks, each of which evaluated its own share of the test set.
import { allReduceNumbers } from '../distributed/collectives.js';
import type { ProcessGroup } from '../distributed/group.js';
import type { DistributedDataParallel } from '../nn/distributed_data_parallel.js';
import type { EvaluationResult, TopKErrors } from './evaluate.js';

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
  const { loss, images, ...errors } = local;
  const keys = Object.keys(errors).sort() as (keyof typeof errors)[];  // the same ranks on every rank
  const [lossSum = 0, total = 0, ...errorCounts] = allReduceNumbers(
    [loss * images, images, ...keys.map((k) => ((errors[k] ?? 0) * images) / 100)],
    { op: 'sum' },
  );
  const combined: Record<string, number> = {};
  keys.forEach((k, i) => (combined[k] = (100 * errorCounts[i]!) / total));
  return { loss: lossSum / total, images: total, ...(combined as TopKErrors) };
}
