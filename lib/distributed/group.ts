// The process group of a data-parallel job: the ranks mpirun started, joined through MPI (loaded
// at run time, see native/distributed), with what was found and why not, like rn.backends().
import { native, type LibraryInfo } from '../binding.js';
import { checkOptions } from '../ops/validate.js';

export interface ProcessGroup {
  rank: number;
  /** Ranks in the group (the world size). */
  size: number;
  /** This rank among the ranks of its machine (the GPU it uses when there are several). */
  localRank: number;
  localSize: number;
}

export interface DistributedBackends {
  /** Open MPI (libmpi.so.40): the launcher's bootstrap and the all-reduce of CPU tensors. */
  mpi: LibraryInfo & { searched: string[] };
  /** NCCL (libnccl.so.2): the all-reduce of CUDA tensors; compiled false without the CUDA part. */
  nccl: LibraryInfo & { compiled: boolean; searched: string[] };
  /** What mpirun says about this process before init(); launched false outside mpirun. */
  launcher: ProcessGroup & { launched: boolean };
  initialized: boolean;
}

export interface InitOptions {
  /**
   * Seconds to wait for every rank to join, and for each collective to complete, before failing
   * with an error that names this rank (default $CUDNN_RESNET_DISTRIBUTED_TIMEOUT, else 300).
   */
  timeout?: number;
}

let current: ProcessGroup | null = null;

export function backends(): DistributedBackends {
  return native.distributed.backends();
}

function defaultTimeout(): number {
  const text = process.env.CUDNN_RESNET_DISTRIBUTED_TIMEOUT;
  if (text === undefined || text === '') return 300;
  const seconds = Number(text);
  if (!(seconds > 0)) throw new RangeError(`CUDNN_RESNET_DISTRIBUTED_TIMEOUT must be a positive number of seconds, got '${text}'`);
  return seconds;
}

/**
 * Joins the group of ranks started by `mpirun` (a process run without mpirun is a group of one).
 * Call it once, before anything uses CUDA: with several ranks on a machine and
 * CUDA_VISIBLE_DEVICES unset, each rank is given the GPU of its local rank. Blocks until every
 * rank has joined; a rank that never joins ends the others with an error after the timeout.
 * The group is finalized when the process exits normally.
 */
export function init(options: InitOptions = {}): ProcessGroup {
  const o = checkOptions('distributed.init', options, ['timeout']);
  if (current) return current;
  const timeout = o.timeout === undefined ? defaultTimeout() : (o.timeout as number);
  if (typeof timeout !== 'number' || !(timeout > 0)) throw new RangeError(`distributed.init: timeout must be a positive number of seconds, got ${String(o.timeout)}`);
  const found = backends();
  if (!found.mpi.loaded) throw new Error(`distributed.init: MPI is not available: ${found.mpi.reason}`);
  const { launcher } = found;
  if (launcher.localSize > 1 && process.env.CUDA_VISIBLE_DEVICES === undefined) process.env.CUDA_VISIBLE_DEVICES = String(launcher.localRank);
  current = native.distributed.init(timeout);
  const group = current;
  // A rank that fails exits without finalizing: mpirun then ends the others and names that rank.
  process.on('exit', (code) => {
    if (code === 0 && current) finalize();
  });
  // mpirun stops the other ranks with SIGTERM when one fails: say so instead of dying silently.
  if (process.listenerCount('SIGTERM') === 0) {
    process.on('SIGTERM', () => {
      process.stderr.write(`cudnn-resnet: rank ${group.rank} of ${group.size} was stopped by the launcher (SIGTERM), ` +
        'usually because another rank failed; mpirun\'s message names it\n');
      process.exit(143);
    });
  }
  return current;
}

export function isInitialized(): boolean {
  return current !== null;
}

/** The group joined by init(); TypeError before it. */
export function group(): ProcessGroup {
  if (!current) throw new TypeError('distributed: the process group is not initialised: call rn.distributed.init() first');
  return current;
}

/** This process's rank (0 before init(), as for a single process). */
export function rank(): number {
  return current?.rank ?? 0;
}

/** Ranks in the group (1 before init()). */
export function worldSize(): number {
  return current?.size ?? 1;
}

/** MPI_Finalize (every rank must call it; init() arranges it at a normal exit). */
export function finalize(): void {
  if (!current) return;
  current = null;
  native.distributed.finalize();
}
