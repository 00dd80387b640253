// synthetic(): a built-in procedural dataset of 10 learnable classes of 3x32x32 colour images
// (see synthetic_patterns.ts), deterministic from a seed. Images are drawn on first use and kept.
import { checkIndex, imageSize, sharedBytes, sharedInt32, type Dataset, type DatasetArrays, type ImageShape, type Sample } from './dataset.js';
import { Rng } from './rng.js';
import { CLASS_NAMES, SIZE, drawPattern } from './synthetic_patterns.js';

const IMAGE_SHAPE: ImageShape = [3, SIZE, SIZE];
const NUM_CLASSES = CLASS_NAMES.length;

export interface SyntheticOptions {
  /** Number of images (default 10000). */
  size?: number;
  /** Seed of the whole dataset (default 0). */
  seed?: number;
  /** Train or test split (default true): same distributions, different images. */
  train?: boolean;
}

/**
 * Image i has label i % 10 (classes exactly balanced when size is a multiple of 10) and is drawn
 * from its own stream new Rng(seed, 2 * i + (train ? 0 : 1)), so it does not depend on which
 * images were drawn before it.
 */
export class SyntheticDataset implements Dataset {
  readonly length: number;
  readonly numClasses = NUM_CLASSES;
  readonly classNames = [...CLASS_NAMES];
  readonly imageShape: ImageShape = [...IMAGE_SHAPE];
  readonly seed: number;
  readonly train: boolean;
  readonly #images: Uint8Array;       // (N, 3, 32, 32), filled on demand
  readonly #labels: Int32Array;       // (N)
  readonly #drawn: Uint8Array;        // (N) 1 once image i is in #images
  #allDrawn = false;

  constructor(options: SyntheticOptions = {}) {
    const op = 'synthetic';
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${op}: options must be an object`);
    const unknownKey = Object.keys(options).find((k) => !['size', 'seed', 'train'].includes(k));
    if (unknownKey !== undefined) throw new TypeError(`${op}: unknown option '${unknownKey}' (known: size, seed, train)`);
    const { size = 10000, seed = 0, train = true } = options;
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`${op}: size must be a non-negative integer, got ${String(size)}`);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${op}: seed must be a non-negative integer, got ${String(seed)}`);
    if (typeof train !== 'boolean') throw new TypeError(`${op}: train must be a boolean, got ${String(train)}`);
    this.length = size;
    this.seed = seed;
    this.train = train;
    this.#images = sharedBytes(size * imageSize(IMAGE_SHAPE));
    this.#labels = sharedInt32(size);
    for (let i = 0; i < size; i++) this.#labels[i] = i % NUM_CLASSES;
    this.#drawn = new Uint8Array(size);
  }

  get(i: number): Sample {
    checkIndex('synthetic.get', i, this.length);
    this.#draw(i);
    const size = imageSize(IMAGE_SHAPE);
    return { image: this.#images.slice(i * size, (i + 1) * size), label: this.#labels[i]! };
  }

  arrays(): DatasetArrays {
    if (!this.#allDrawn) {
      for (let i = 0; i < this.length; i++) this.#draw(i);
      this.#allDrawn = true;
    }
    return { images: this.#images, labels: this.#labels };
  }

  #draw(i: number): void {
    if (this.#drawn[i] === 1) return;
    const rng = new Rng(this.seed, 2 * i + (this.train ? 0 : 1));
    drawPattern(this.#labels[i]!, rng, this.#images, i * imageSize(IMAGE_SHAPE));
    this.#drawn[i] = 1;
  }
}

/** The synthetic dataset for the options (see SyntheticDataset). */
export function synthetic(options: SyntheticOptions = {}): SyntheticDataset {
  return new SyntheticDataset(options);
}
