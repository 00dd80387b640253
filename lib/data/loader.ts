// DataLoader: batches of a Dataset as tensors, images (B, C, H, W) float32 normalised and labels
// (B) int64, shuffled and augmented deterministically from a seed and the epoch. The sync
// iterator assembles each batch on the calling thread; the async iterator has a worker thread
// assemble the next batches while the caller trains on the current one. Both run the same
// assembly code on the same plan, so they yield identical batches.
import { tensor } from '../creation.js';
import type { MemoryFormat, Tensor } from '../tensor.js';
import { checkInt, checkOptions } from '../ops/validate.js';
import { assembleBatch, type BatchRequest, type ChannelAffine } from './assemble.js';
import { channelAffine, checkPadding } from './augment.js';
import { checkImageShape, imageSize, isShared, sharedBytes, type Dataset, type DatasetArrays, type ImageShape } from './dataset.js';
import type { DistributedSampler } from './distributed_sampler.js';
import { PrefetchWorker } from './prefetch.js';
import { Rng } from './rng.js';

export interface DataLoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (default false). */
  shuffle?: boolean;
  /** Seed of the shuffles and augmentation, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** The ResNet paper's augmentation: random crop of the zero-padded image, random horizontal flip (default false). */
  augment?: boolean;
  /** Zero padding of the random crop, in pixels (default 4). */
  padding?: number;
  /** Per-channel mean on the [0, 1] scale (default 0 for every channel). */
  mean?: number[];
  /** Per-channel standard deviation on the [0, 1] scale (default 1 for every channel). */
  std?: number[];
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Memory format of the images tensor (default 'contiguous'). */
  memoryFormat?: MemoryFormat;
  /** Batches the async iterator has the worker prepare ahead of the one being used (default 2). */
  prefetch?: number;
  /** Data-parallel training: only this rank's share of each epoch (see DistributedSampler). */
  sampler?: DistributedSampler;
}

export interface Batch {
  images: Tensor;                  // (B, C, H, W) float32, normalised
  labels: Tensor;                  // (B) int64
}

/** One epoch, position by position: which sample, and its crop shift and flip. */
interface EpochPlan {
  /** The first batch to yield (resuming inside an epoch). */
  startBatch: number;
  order: Int32Array;
  shiftY: Int32Array;
  shiftX: Int32Array;
  flip: Uint8Array;
}

const OPTION_KEYS = ['batchSize', 'shuffle', 'seed', 'augment', 'padding', 'mean', 'std', 'dropLast', 'memoryFormat', 'prefetch', 'sampler'];

function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`DataLoader: ${name} must be a boolean, got ${String(v)}`);
  return v;
}

function checkDataset(dataset: unknown): Dataset {
  const d = dataset as Partial<Dataset> | null;
  if (d === null || typeof d !== 'object' || typeof d.get !== 'function') {
    throw new TypeError('DataLoader: dataset must be a Dataset (an object with length, imageShape and get(i))');
  }
  checkInt('DataLoader', 'dataset.length', d.length, 0);
  checkImageShape('DataLoader', d.imageShape);
  return d as Dataset;
}

/**
 * Each iteration (`for` or `for await`) runs epoch `loader.epoch` and advances it by one;
 * setEpoch(e) picks the epoch of the next iteration. Epoch e draws from new Rng(seed, e): first
 * rng.permutation(N) when shuffling, then for each position in epoch order the draws of
 * randomCrop(…, padding, rng) and randomHorizontalFlip(…, rng) when augmenting.
 * The caller owns the yielded tensors (dispose them, or create them inside rn.scope).
 * close() stops the prefetch worker; a later async iteration starts a new one.
 */
export class DataLoader implements Iterable<Batch>, AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly augment: boolean;
  readonly padding: number;
  readonly dropLast: boolean;
  readonly memoryFormat: MemoryFormat;
  readonly prefetch: number;
  readonly sampler: DistributedSampler | null;
  readonly #options: DataLoaderOptions;
  readonly #shape: ImageShape;
  readonly #affine: ChannelAffine;
  #epoch = 0;
  #startBatch = 0;
  #arrays: DatasetArrays | null = null;
  #worker: PrefetchWorker | null = null;

  constructor(dataset: Dataset, options: DataLoaderOptions) {
    const op = 'DataLoader';
    this.dataset = checkDataset(dataset);
    if (options === undefined) throw new TypeError(`${op}: options with a batchSize are required`);
    const o = checkOptions(op, options, OPTION_KEYS);
    this.batchSize = checkInt(op, 'batchSize', o.batchSize, 1);
    this.shuffle = checkBoolean('shuffle', o.shuffle ?? false);
    this.seed = checkInt(op, 'seed', o.seed ?? 0, 0);
    if (!Number.isSafeInteger(this.seed)) throw new RangeError(`${op}: seed must be below 2^53, got ${this.seed}`);
    this.augment = checkBoolean('augment', o.augment ?? false);
    this.padding = checkPadding(op, o.padding ?? 4);
    this.dropLast = checkBoolean('dropLast', o.dropLast ?? false);
    this.memoryFormat = (o.memoryFormat ?? 'contiguous') as MemoryFormat;
    if (this.memoryFormat !== 'contiguous' && this.memoryFormat !== 'channelsLast') {
      throw new TypeError(`${op}: memoryFormat must be 'contiguous' or 'channelsLast', got ${String(o.memoryFormat)}`);
    }
    this.prefetch = checkInt(op, 'prefetch', o.prefetch ?? 2, 1);
    this.sampler = (o.sampler as DistributedSampler | undefined) ?? null;
    if (this.sampler !== null && typeof this.sampler.positions !== 'function') throw new TypeError(`${op}: sampler must be a DistributedSampler`);
    this.#options = options;
    this.#shape = [...dataset.imageShape];
    const channels = this.#shape[0];
    this.#affine = channelAffine(op, o.mean ?? new Array<number>(channels).fill(0), o.std ?? new Array<number>(channels).fill(1));
    if (this.#affine.scale.length !== channels) {
      throw new RangeError(`${op}: mean and std have ${this.#affine.scale.length} entries but the images have ${channels} channels`);
    }
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.sampler ? this.sampler.numSamples(this.dataset.length) : this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** A loader with the same options that yields only the sampler's share of each epoch. */
  withSampler(sampler: DistributedSampler): DataLoader {
    return new DataLoader(this.dataset, { ...this.#options, sampler });
  }

  /** The epoch the next iteration runs. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Picks the epoch of the next iteration and, to resume inside it, the first batch to yield
   * (the batches before it are skipped without being assembled; the rest are identical).
   */
  setEpoch(epoch: number, startBatch = 0): void {
    this.#epoch = checkInt('DataLoader.setEpoch', 'epoch', epoch, 0);
    if (!Number.isSafeInteger(epoch)) throw new RangeError(`DataLoader.setEpoch: epoch must be below 2^53, got ${epoch}`);
    this.#startBatch = checkInt('DataLoader.setEpoch', 'startBatch', startBatch, 0);
    if (startBatch > this.length) throw new RangeError(`DataLoader.setEpoch: startBatch ${startBatch} is beyond the epoch's ${this.length} batches`);
  }

  /** Batches the prefetch worker has assembled so far (0 before the first async iteration). */
  get prefetchedBatches(): number {
    return this.#worker ? Atomics.load(this.#worker.progress, 0) : 0;
  }

  [Symbol.iterator](): Generator<Batch, void, undefined> {
    return this.#assembledHere(this.#planEpoch());
  }

  [Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    return this.#assembledByWorker(this.#planEpoch());
  }

  /** Stops the prefetch worker (pending async batches reject). */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    await worker?.terminate();
  }

  *#assembledHere(plan: EpochPlan): Generator<Batch, void, undefined> {
    const { images } = this.#data();
    for (let b = plan.startBatch; b < this.length; b++) {
      const request = this.#request(plan, b);
      const out = new Float32Array(request.indices.length * imageSize(this.#shape));
      assembleBatch(images, this.#shape, this.#affine, request, out);
      yield this.#toBatch(out, request);
    }
  }

  async *#assembledByWorker(plan: EpochPlan): AsyncGenerator<Batch, void, undefined> {
    const worker = this.#prefetchWorker();
    const count = this.length;
    const inFlight: Promise<Float32Array>[] = [];
    let requested = plan.startBatch;
    try {
      for (let b = plan.startBatch; b < count; b++) {
        while (requested < count && requested <= b + this.prefetch) inFlight.push(worker.request(this.#request(plan, requested++)));
        const images = await inFlight.shift()!;
        yield this.#toBatch(images, this.#request(plan, b));
      }
    } finally {
      // An iteration left early abandons its prefetched batches; close() may reject them.
      for (const abandoned of inFlight) abandoned.catch(() => undefined);
    }
  }

  #planEpoch(): EpochPlan {
    const n = this.dataset.length;
    const rng = new Rng(this.seed, this.#epoch++);
    const startBatch = this.#startBatch;
    this.#startBatch = 0;
    const order = this.shuffle ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const shiftY = new Int32Array(n);
    const shiftX = new Int32Array(n);
    const flip = new Uint8Array(n);
    if (this.augment) {
      const p = this.padding;
      for (let k = 0; k < n; k++) {
        shiftY[k] = rng.int(2 * p + 1) - p;
        shiftX[k] = rng.int(2 * p + 1) - p;
        flip[k] = rng.next() < 0.5 ? 1 : 0;
      }
    }
    if (!this.sampler) return { startBatch, order, shiftY, shiftX, flip };
    const mine = this.sampler.positions(n);
    return { startBatch, order: gather(order, mine), shiftY: gather(shiftY, mine), shiftX: gather(shiftX, mine), flip: gather(flip, mine) };
  }

  #request(plan: EpochPlan, b: number): BatchRequest {
    const start = b * this.batchSize;
    const end = Math.min(start + this.batchSize, plan.order.length);
    return {
      indices: plan.order.subarray(start, end),
      shiftY: plan.shiftY.subarray(start, end),
      shiftX: plan.shiftX.subarray(start, end),
      flip: plan.flip.subarray(start, end),
    };
  }

  #toBatch(images: Float32Array, request: BatchRequest): Batch {
    const { labels } = this.#data();
    const batch = request.indices.length;
    const batchLabels = BigInt64Array.from(request.indices, (i) => BigInt(labels[i]!));
    return {
      images: tensor(images, [batch, ...this.#shape], { memoryFormat: this.memoryFormat }),
      labels: tensor(batchLabels, [batch], { dtype: 'int64' }),
    };
  }

  #prefetchWorker(): PrefetchWorker {
    if (this.#worker === null || this.#worker.failed) {
      this.#worker = new PrefetchWorker(this.#data().images, this.#shape, this.#affine);
    }
    return this.#worker;
  }

  /** The dataset's images (on a SharedArrayBuffer, for the worker) and labels, fetched once. */
  #data(): DatasetArrays {
    if (this.#arrays !== null) return this.#arrays;
    const arrays = this.dataset.arrays ? this.dataset.arrays() : gatherArrays(this.dataset, this.#shape);
    const n = this.dataset.length;
    if (arrays.images.length !== n * imageSize(this.#shape) || arrays.labels.length !== n) {
      throw new RangeError(`DataLoader: dataset.arrays() gave ${arrays.images.length} image bytes and ${arrays.labels.length} labels for ${n} samples of shape [${this.#shape}]`);
    }
    let { images } = arrays;
    if (!isShared(images)) {
      images = sharedBytes(images.length);
      images.set(arrays.images);
    }
    this.#arrays = { images, labels: arrays.labels };
    return this.#arrays;
  }
}

/** all[positions[k]] for every k. */
function gather<A extends Int32Array | Uint8Array>(all: A, positions: Int32Array): A {
  const out = new (all.constructor as new (n: number) => A)(positions.length);
  positions.forEach((p, k) => (out[k] = all[p]!));
  return out;
}

/** Every sample of a dataset without arrays(), through get(). */
function gatherArrays(dataset: Dataset, shape: ImageShape): DatasetArrays {
  const size = imageSize(shape);
  const images = sharedBytes(dataset.length * size);
  const labels = new Int32Array(dataset.length);
  for (let i = 0; i < dataset.length; i++) {
    const { image, label } = dataset.get(i);
    if (!(image instanceof Uint8Array) || image.length !== size) {
      throw new RangeError(`DataLoader: dataset.get(${i}).image must be a Uint8Array of ${size} bytes (shape [${shape}])`);
    }
    if (!Number.isInteger(label) || label < 0) throw new RangeError(`DataLoader: dataset.get(${i}).label must be a non-negative integer, got ${label}`);
    images.set(image, i * size);
    labels[i] = label;
  }
  return { images, labels };
}
