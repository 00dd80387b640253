// The Dataset interface, ArrayDataset (images and labels held in shared memory) and the checks
// every reader and the loader share.

/** An image's shape: [channels, height, width]. */
export type ImageShape = [number, number, number];

export interface Sample {
  /** C*H*W bytes in CHW order (a copy: changing it leaves the dataset alone). */
  image: Uint8Array;
  label: number;
}

/** Every image and label of a dataset at once. */
export interface DatasetArrays {
  /** (N, C, H, W) bytes, image i at i*C*H*W. */
  images: Uint8Array;
  /** (N) class indices. */
  labels: Int32Array;
}

export interface Dataset {
  readonly length: number;
  readonly numClasses: number;
  readonly classNames?: string[];
  /** [C, H, W] of every image. */
  readonly imageShape: ImageShape;
  get(i: number): Sample;
  /**
   * Optional: all images and labels at once. The DataLoader hands them to its prefetch worker;
   * arrays on a SharedArrayBuffer are shared without a copy, others are copied once. Without
   * this method the loader gathers the samples through get().
   */
  arrays?(): DatasetArrays;
}

export function imageSize(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}

export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
}

export function isShared(array: ArrayBufferView): boolean {
  return array.buffer instanceof SharedArrayBuffer;
}

export function checkImageShape(op: string, shape: unknown): ImageShape {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((s) => Number.isInteger(s) && s > 0)) {
    throw new TypeError(`${op}: shape must be [channels, height, width] with positive integers, got ${JSON.stringify(shape)}`);
  }
  return [shape[0], shape[1], shape[2]];
}

export function checkIndex(op: string, i: unknown, length: number): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new TypeError(`${op}: index must be an integer, got ${String(i)}`);
  if (i < 0 || i >= length) throw new RangeError(`${op}: index ${i} is out of range for a dataset of ${length} samples`);
  return i;
}

/** Checks that `options` is an object holding a boolean `train` and nothing else. */
export function checkSplitOptions(op: string, options: unknown): boolean {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${op}: options must be an object like { train: true }, got ${options === null ? 'null' : typeof options}`);
  }
  const unknownKey = Object.keys(options).find((k) => k !== 'train');
  if (unknownKey !== undefined) throw new TypeError(`${op}: unknown option '${unknownKey}' (known: train)`);
  const train = (options as { train?: unknown }).train;
  if (typeof train !== 'boolean') throw new TypeError(`${op}: options.train must be a boolean, got ${String(train)}`);
  return train;
}

export function checkDirectory(op: string, dir: unknown): string {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`${op}: dir must be a non-empty path string, got ${String(dir)}`);
  return dir;
}

export interface ArrayDatasetOptions {
  numClasses?: number;
  classNames?: string[];
}

/**
 * A dataset over arrays in memory: images (N, C, H, W) bytes and labels (N). The readers return
 * one, with both arrays on SharedArrayBuffers so a loader's worker reads them in place.
 * numClasses defaults to classNames.length, else to the largest label + 1.
 */
export class ArrayDataset implements Dataset {
  readonly length: number;
  readonly numClasses: number;
  readonly classNames?: string[];
  readonly imageShape: ImageShape;
  readonly #images: Uint8Array;
  readonly #labels: Int32Array;

  constructor(images: Uint8Array, labels: Int32Array, imageShape: ImageShape, options: ArrayDatasetOptions = {}) {
    const op = 'ArrayDataset';
    if (!(images instanceof Uint8Array)) throw new TypeError(`${op}: images must be a Uint8Array`);
    if (!(labels instanceof Int32Array)) throw new TypeError(`${op}: labels must be an Int32Array`);
    this.imageShape = checkImageShape(op, imageShape);
    const size = imageSize(this.imageShape);
    if (images.length !== labels.length * size) {
      throw new RangeError(`${op}: ${labels.length} labels need ${labels.length * size} image bytes for shape [${this.imageShape}], got ${images.length}`);
    }
    let maxLabel = -1;
    for (const label of labels) {
      if (label < 0) throw new RangeError(`${op}: labels must be non-negative, got ${label}`);
      if (label > maxLabel) maxLabel = label;
    }
    const { classNames } = options;
    if (classNames !== undefined && (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string'))) {
      throw new TypeError(`${op}: classNames must be an array of strings`);
    }
    const numClasses = options.numClasses ?? classNames?.length ?? maxLabel + 1;
    if (!Number.isInteger(numClasses) || numClasses <= maxLabel) {
      throw new RangeError(`${op}: numClasses must be an integer above the largest label ${maxLabel}, got ${numClasses}`);
    }
    if (classNames !== undefined && classNames.length !== numClasses) {
      throw new RangeError(`${op}: ${classNames.length} class names for ${numClasses} classes`);
    }
    this.length = labels.length;
    this.numClasses = numClasses;
    if (classNames !== undefined) this.classNames = classNames;
    this.#images = images;
    this.#labels = labels;
  }

  get(i: number): Sample {
    checkIndex('ArrayDataset.get', i, this.length);
    const size = imageSize(this.imageShape);
    return { image: this.#images.slice(i * size, (i + 1) * size), label: this.#labels[i]! };
  }

  arrays(): DatasetArrays {
    return { images: this.#images, labels: this.#labels };
  }
}
