// The ResNet paper's CIFAR augmentation (zero-pad 4 pixels, random crop back to the original
// size, random horizontal flip) and per-channel normalisation to float32. Each random function
// draws from the Rng it is given, in a documented order, so the DataLoader reproduces them.
import { writeSample, type ChannelAffine } from './assemble.js';
import { checkImageShape, imageSize, type ImageShape } from './dataset.js';
import { Rng } from './rng.js';

function checkImage(op: string, image: unknown, shape: unknown): ImageShape {
  const s = checkImageShape(op, shape);
  if (!(image instanceof Uint8Array)) throw new TypeError(`${op}: image must be a Uint8Array`);
  if (image.length !== imageSize(s)) throw new RangeError(`${op}: image has ${image.length} bytes, shape [${s}] needs ${imageSize(s)}`);
  return s;
}

function checkRng(op: string, rng: unknown): Rng {
  if (!(rng instanceof Rng)) throw new TypeError(`${op}: rng must be an Rng (new Rng(seed))`);
  return rng;
}

export function checkPadding(op: string, padding: unknown): number {
  if (typeof padding !== 'number' || !Number.isInteger(padding)) throw new TypeError(`${op}: padding must be an integer, got ${String(padding)}`);
  if (padding < 0) throw new RangeError(`${op}: padding must be non-negative, got ${padding}`);
  return padding;
}

/** The byte copy of writeSample: image shifted by (dy, dx) with zeros coming in, then mirrored. */
function transformed(image: Uint8Array, shape: ImageShape, dy: number, dx: number, flip: boolean): Uint8Array {
  const [channels, height, width] = shape;
  const out = new Uint8Array(image.length);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= height) continue;
      for (let x = 0; x < width; x++) {
        const sx = (flip ? width - 1 - x : x) + dx;
        if (sx >= 0 && sx < width) out[(c * height + y) * width + x] = image[(c * height + sy) * width + sx]!;
      }
    }
  }
  return out;
}

/**
 * Zero-pads `image` (shape [C, H, W]) by `padding` pixels on every side and returns a random
 * HxW crop of it (a new array). Draws rng.int(2 * padding + 1) for the top offset, then the
 * same for the left offset.
 */
export function randomCrop(image: Uint8Array, shape: ImageShape, padding: number | undefined = 4, rng: Rng): Uint8Array {
  const op = 'randomCrop';
  const s = checkImage(op, image, shape);
  const p = checkPadding(op, padding);
  checkRng(op, rng);
  const top = rng.int(2 * p + 1);
  const left = rng.int(2 * p + 1);
  return transformed(image, s, top - p, left - p, false);
}

/** A left-right mirror of `image` with probability 1/2 (one rng.next() < 0.5), else a copy. */
export function randomHorizontalFlip(image: Uint8Array, shape: ImageShape, rng: Rng): Uint8Array {
  const op = 'randomHorizontalFlip';
  const s = checkImage(op, image, shape);
  checkRng(op, rng);
  return transformed(image, s, 0, 0, rng.next() < 0.5);
}

/** Checks mean and std (one entry per channel, std > 0) and folds them into a ChannelAffine. */
export function channelAffine(op: string, mean: unknown, std: unknown): ChannelAffine {
  const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!isNumbers(mean)) throw new TypeError(`${op}: mean must be a non-empty array of finite numbers, one per channel`);
  if (!isNumbers(std)) throw new TypeError(`${op}: std must be a non-empty array of finite numbers, one per channel`);
  if (mean.length !== std.length) throw new RangeError(`${op}: mean has ${mean.length} entries but std has ${std.length}`);
  if (std.some((s) => s <= 0)) throw new RangeError(`${op}: std entries must be positive, got [${std}]`);
  return {
    scale: Float64Array.from(std, (s) => 1 / (255 * s)),
    bias: Float64Array.from(mean, (m, c) => -m / std[c]!),
  };
}

/**
 * Per-channel normalisation as torchvision's ToTensor + Normalize: value = (byte / 255 - mean[c]) / std[c],
 * with mean and std on the [0, 1] scale. Returns a function from a [C, H, W] image to float32;
 * the DataLoader applies the same map when it batches.
 */
export function normalize(mean: number[], std: number[]): (image: Uint8Array, shape: ImageShape) => Float32Array {
  const affine = channelAffine('normalize', mean, std);
  return (image, shape) => {
    const s = checkImage('normalize', image, shape);
    if (s[0] !== affine.scale.length) throw new RangeError(`normalize: the image has ${s[0]} channels but mean and std have ${affine.scale.length}`);
    const out = new Float32Array(image.length);
    writeSample(image, 0, s, 0, 0, false, affine, out, 0);
    return out;
  };
}
