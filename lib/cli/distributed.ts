// `train --distributed`: join the group mpirun started, then give each rank its share of the
// data, wrap the model in DistributedDataParallel (its BatchNorm2d layers made SyncBatchNorm with
// --sync-batch-norm) and count the schedule in per-rank steps.
import { backends, init, type ProcessGroup } from '../distributed/group.js';
import { DistributedSampler } from '../data/distributed_sampler.js';
import { DistributedDataParallel } from '../nn/distributed_data_parallel.js';
import { convertSyncBatchNorm } from '../nn/sync_batch_norm.js';
import { LRScheduler } from '../optim/schedules.js';
import type { DistributedTraining } from '../train/distributed.js';
import { makePlateau, makeSchedule, type Run, type RunOptions } from './setup.js';

/** The `info` lines: MPI and NCCL, where they were loaded from or why not. */
export function describeDistributed(): string[] {
  const { mpi, nccl } = backends();
  return [
    `distributed: MPI ${mpi.loaded ? `Open MPI ${mpi.version} from ${mpi.path}` : `not loaded — ${mpi.reason}`}`,
    `  NCCL: ${nccl.loaded ? `${nccl.version} from ${nccl.path}` : `not loaded — ${nccl.reason}`}`,
  ];
}

/** Joins the group; before anything touches CUDA (each rank is given its local GPU). */
export function joinGroup(say: (line: string) => void): ProcessGroup {
  const found = backends();
  const group = init();
  if (group.rank === 0) {
    say(`distributed: ${group.size} rank${group.size > 1 ? 's' : ''} on ${group.size / group.localSize} machine(s); ` +
      `MPI: Open MPI ${found.mpi.version}; NCCL: ${found.nccl.loaded ? found.nccl.version : `not used (${found.nccl.reason})`}`);
  }
  return group;
}

/**
 * Shards the loaders (the batch size stays per rank: the global batch is size times it), wraps
 * the model, and rebuilds the schedule (and the plateau scheduler on top of it) for the sharded
 * epoch length.
 */
export function distributeRun(run: Run, group: ProcessGroup, o: RunOptions, syncBatchNorm = false): DistributedTraining {
  if (syncBatchNorm) convertSyncBatchNorm(run.model);
  run.trainLoader = run.trainLoader.withSampler(new DistributedSampler());
  run.testLoader = run.testLoader?.withSampler(new DistributedSampler({ pad: false }));
  run.totalSteps = Math.min(o.maxSteps ?? Infinity, o.epochs * run.trainLoader.length);
  run.optimizer.paramGroups.forEach((g, i) => (g.lr = run.scheduler.baseLrs[i]!));
  run.scheduler = new LRScheduler(run.optimizer, makeSchedule(o, run.totalSteps));
  run.plateau = makePlateau(o, run.scheduler);
  return { group, ddp: new DistributedDataParallel(run.model) };
}
