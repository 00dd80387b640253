// DistributedSampler: each rank's share of an epoch (PyTorch's DistributedSampler). The
// DataLoader plans the whole epoch from its seed, identically on every rank (the shuffle and the
// augmentation draws), and keeps the positions of this rank: rank, rank + size, rank + 2 size ...
// Without dropLast the epoch is padded by wrapping around so that every rank gets as many
// samples; with dropLast the tail that does not divide evenly is left out. So batch b of the
// ranks together is batch b of one process whose batch size is theirs times the world size.
import { checkInt, checkOptions } from '../ops/validate.js';
import { group } from '../distributed/group.js';

export interface DistributedSamplerOptions {
  /** Ranks sharing the data (default: the size of the initialised process group). */
  numReplicas?: number;
  /** This rank (default: the process group's). */
  rank?: number;
  /** Leave out the tail instead of padding (default false). */
  dropLast?: boolean;
  /**
   * Pad the epoch so that every rank gets as many samples (default true; training needs it, as
   * ranks step together). false: each sample exactly once over all ranks (evaluation).
   */
  pad?: boolean;
}

export class DistributedSampler {
  readonly numReplicas: number;
  readonly rank: number;
  readonly dropLast: boolean;
  readonly pad: boolean;

  constructor(options: DistributedSamplerOptions = {}) {
    const op = 'DistributedSampler';
    const o = checkOptions(op, options, ['numReplicas', 'rank', 'dropLast', 'pad']);
    const needGroup = o.numReplicas === undefined || o.rank === undefined;
    const g = needGroup ? group() : null;
    this.numReplicas = checkInt(op, 'numReplicas', o.numReplicas ?? g!.size, 1);
    this.rank = checkInt(op, 'rank', o.rank ?? g!.rank, 0);
    if (this.rank >= this.numReplicas) throw new RangeError(`${op}: rank ${this.rank} must be below numReplicas ${this.numReplicas}`);
    this.dropLast = (o.dropLast as boolean | undefined) ?? false;
    if (typeof this.dropLast !== 'boolean') throw new TypeError(`${op}: dropLast must be a boolean, got ${String(o.dropLast)}`);
    this.pad = (o.pad as boolean | undefined) ?? true;
    if (typeof this.pad !== 'boolean') throw new TypeError(`${op}: pad must be a boolean, got ${String(o.pad)}`);
  }

  /** Samples this rank sees in an epoch of n. */
  numSamples(n: number): number {
    if (!this.pad && !this.dropLast) return Math.max(0, Math.ceil((n - this.rank) / this.numReplicas));
    return this.dropLast ? Math.floor(n / this.numReplicas) : Math.ceil(n / this.numReplicas);
  }

  /** The positions in an epoch of n (indices into its planned order) that are this rank's. */
  positions(n: number): Int32Array {
    const count = this.numSamples(n);
    const out = new Int32Array(count);
    for (let k = 0; k < count; k++) out[k] = (this.rank + k * this.numReplicas) % n;
    return out;
  }
}
