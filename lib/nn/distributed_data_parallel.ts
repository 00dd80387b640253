// DistributedDataParallel: data-parallel training over the ranks of rn.distributed (PyTorch's
// DDP). At construction the parameters and buffers take rank 0's values. In a training
// backward pass each parameter's gradient, once complete, joins its bucket (about 25 MB, the
// first 1 MB, in reverse parameter order as the backward pass produces them); a full bucket's
// mean over the ranks is queued at once on the communication thread (MPI) or the CUDA stream
// (NCCL) while the backward pass goes on, and backward() returns with every gradient averaged.
import { queueBackwardCallback, registerPostAccumulateGradHook } from '../autograd.js';
import { zerosLike } from '../creation.js';
import { allReduceInto, broadcast, type Work } from '../distributed/collectives.js';
import { group } from '../distributed/group.js';
import { untracked } from '../memory.js';
import { checkOptions } from '../ops/validate.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

export interface DistributedDataParallelOptions {
  /** Bytes of gradients per bucket, in MiB (default 25, as PyTorch). */
  bucketCapMb?: number;
  /** The first bucket's cap in MiB (default 1, as PyTorch): the first all-reduce starts early. */
  firstBucketCapMb?: number;
  /** Give every rank rank 0's buffers (BN running statistics) before each training forward (default true). */
  broadcastBuffers?: boolean;
}

/** Communication of the gradient buckets since construction (or resetStats()). */
export interface DistributedDataParallelStats {
  /** Backward passes whose gradients were averaged. */
  syncs: number;
  /** Seconds the all-reduces took on the communication thread (overlapping the backward pass). */
  allReduceSeconds: number;
  /** Seconds the JS thread waited for them at the end of backward (the exposed part). */
  waitSeconds: number;
}

interface Bucket {
  params: Tensor[];
  bytes: number;
  ready: number;
}

export class DistributedDataParallel<M extends Module = Module> extends Module {
  readonly module: M;
  readonly buckets: readonly { params: readonly Tensor[]; bytes: number }[];
  readonly broadcastBuffers: boolean;
  readonly #buckets: Bucket[];
  readonly #bucketOf = new Map<Tensor, number>();
  readonly #ready = new Set<Tensor>();
  readonly #inFlight: { bucket: Bucket; work: Work; outputs: Tensor[] }[] = [];
  #nextBucket = 0;
  #sync = true;
  #armed = false;
  #stats: DistributedDataParallelStats = { syncs: 0, allReduceSeconds: 0, waitSeconds: 0 };

  constructor(module: M, options: DistributedDataParallelOptions = {}) {
    super();
    const o = checkOptions('DistributedDataParallel', options, ['bucketCapMb', 'firstBucketCapMb', 'broadcastBuffers']);
    if (!(module instanceof Module)) throw new TypeError('DistributedDataParallel: expected a Module to wrap');
    group();
    const cap = (name: string, fallback: number) => {
      const value = (o[name] as number | undefined) ?? fallback;
      if (typeof value !== 'number' || !(value > 0)) throw new RangeError(`DistributedDataParallel: ${name} must be a positive number of MiB, got ${String(o[name])}`);
      return value * 2 ** 20;
    };
    const bucketCap = cap('bucketCapMb', 25), firstCap = cap('firstBucketCapMb', 1);
    this.broadcastBuffers = (o.broadcastBuffers as boolean | undefined) ?? true;
    this.module = this.registerModule('module', module);

    const params = module.parameters().filter((p) => p.requiresGrad);
    const devices = new Set(params.map((p) => p.device));
    if (devices.size > 1) throw new TypeError('DistributedDataParallel: every parameter must be on one device; move the model with .to() first');
    broadcast([...module.parameters(), ...module.buffers()], { root: 0 });

    // Reverse parameter order: roughly the order in which the backward pass completes them.
    this.#buckets = [];
    for (const p of [...params].reverse()) {
      const bytes = p.numel * (p.dtype === 'float32' ? 4 : 2);
      let last = this.#buckets[this.#buckets.length - 1];
      const limit = this.#buckets.length <= 1 ? firstCap : bucketCap;
      if (!last || (last.bytes + bytes > limit && last.params.length > 0)) {
        last = { params: [], bytes: 0, ready: 0 };
        this.#buckets.push(last);
      }
      last.params.push(p);
      last.bytes += bytes;
      this.#bucketOf.set(p, this.#buckets.length - 1);
      registerPostAccumulateGradHook(p, (leaf) => this.#gradReady(leaf));
    }
    this.buckets = this.#buckets.map((b) => ({ params: b.params, bytes: b.bytes }));
  }

  forward(...inputs: Tensor[]): Tensor {
    if (this.training) {
      if (this.broadcastBuffers && group().size > 1) {
        const buffers = this.module.buffers();
        if (buffers.length > 0) broadcast(buffers, { root: 0 });
      }
      this.#armed = this.#sync;
    }
    return this.module.forward(...inputs);
  }

  /**
   * Runs fn (forward and backward passes) without averaging gradients: they accumulate on each
   * rank, and the next backward outside noSync averages the sums (gradient accumulation).
   */
  noSync<R>(fn: () => R): R {
    const previous = this.#sync;
    this.#sync = false;
    try {
      return fn();
    } finally {
      this.#sync = previous;
    }
  }

  get stats(): DistributedDataParallelStats {
    return { ...this.#stats };
  }

  resetStats(): void {
    this.#stats = { syncs: 0, allReduceSeconds: 0, waitSeconds: 0 };
  }

  #gradReady(param: Tensor): void {
    if (!this.#armed) return;
    if (this.#ready.size === 0) queueBackwardCallback(() => this.#finish());
    if (this.#ready.has(param)) return;
    this.#ready.add(param);
    this.#buckets[this.#bucketOf.get(param)!]!.ready++;
    this.#launchReady();
  }

  // Buckets go out in index order on every rank (collectives must match across ranks).
  #launchReady(): void {
    while (this.#nextBucket < this.#buckets.length) {
      const bucket = this.#buckets[this.#nextBucket]!;
      if (bucket.ready < bucket.params.length) return;
      this.#launch(bucket);
      this.#nextBucket++;
    }
  }

  #launch(bucket: Bucket): void {
    untracked(() => {
      // A parameter that took no part in this backward pass contributes zeros.
      for (const p of bucket.params) if (!p.grad) p.grad = zerosLike(p);
      const grads = bucket.params.map((p) => p.grad!);
      const outputs = grads.map((g) => zerosLike(g));
      this.#inFlight.push({ bucket, work: allReduceInto(grads, outputs, 'mean'), outputs });
    });
  }

  // The end of the backward pass: the buckets not yet full go out, then every average replaces
  // its gradient.
  #finish(): void {
    for (const bucket of this.#buckets.slice(this.#nextBucket)) this.#launch(bucket);
    const started = performance.now();
    try {
      for (const { bucket, work, outputs } of this.#inFlight) {
        this.#stats.allReduceSeconds += work.wait();
        bucket.params.forEach((p, i) => {
          p.grad?.dispose();
          p.grad = outputs[i]!;
        });
      }
    } finally {
      this.#stats.waitSeconds += (performance.now() - started) / 1000;
      this.#stats.syncs++;
      this.#inFlight.length = 0;
      this.#ready.clear();
      for (const bucket of this.#buckets) bucket.ready = 0;
      this.#nextBucket = 0;
      this.#armed = false;
    }
  }
}
