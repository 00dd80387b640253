// rn.vision.transforms, in torchvision's spirit: small steps composed in order, image steps
// (resize, centerCrop) first, then toTensor, then tensor steps (normalize):
//   const preprocess = transforms.compose([transforms.resize(256), transforms.centerCrop(224),
//     transforms.toTensor(), transforms.normalize(IMAGENET_MEAN, IMAGENET_STD)]);
//   const x = await preprocess('cat.jpg');     // float32 (3, 224, 224)
// Every step describes itself as JSON (`spec`), so a checkpoint can record its preprocessing and
// `fromSpec` rebuilds it.
import { tensor } from '../creation.js';
import { div, sub } from '../ops/elementwise.js';
import type { Tensor } from '../tensor.js';
import { centerCropImage, checkSize, loadImage, resizeImage, type Image, type ImageInput, type Size } from './image.js';

/** ImageNet's per-channel mean and standard deviation (RGB, on the [0, 1] scale), as torchvision uses them. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export type TransformSpec =
  | { name: 'resize'; size: Size }
  | { name: 'centerCrop'; size: Size }
  | { name: 'toTensor' }
  | { name: 'normalize'; mean: number[]; std: number[] };

export interface ImageTransform {
  readonly kind: 'image';
  readonly spec: TransformSpec;
  apply(image: Image): Promise<Image> | Image;
}
export interface ToTensor {
  readonly kind: 'toTensor';
  readonly spec: TransformSpec;
  apply(image: Image): Tensor;
}
export interface TensorTransform {
  readonly kind: 'tensor';
  readonly spec: TransformSpec;
  apply(x: Tensor): Tensor;
}
export type Transform = ImageTransform | ToTensor | TensorTransform;

/** The shorter side to `size` (a number), or exactly [h, w]. */
export function resize(size: Size): ImageTransform {
  checkSize('resize', size);
  return { kind: 'image', spec: { name: 'resize', size }, apply: (image) => resizeImage(image, size) };
}

/** The central [h, w] (a number: square). */
export function centerCrop(size: Size): ImageTransform {
  checkSize('centerCrop', size);
  return { kind: 'image', spec: { name: 'centerCrop', size }, apply: (image) => centerCropImage(image, size) };
}

/** (H, W, C) bytes -> float32 (C, H, W) on the [0, 1] scale. */
export function toTensor(): ToTensor {
  return {
    kind: 'toTensor',
    spec: { name: 'toTensor' },
    apply(image) {
      const { width, height, channels, data } = image;
      const plane = width * height;
      const values = new Float32Array(channels * plane);
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < channels; c++) values[c * plane + p] = data[p * channels + c]! / 255;
      }
      return tensor(values, [channels, height, width]);
    },
  };
}

/** (x − mean) / std per channel of a (C, H, W) or (N, C, H, W) tensor. */
export function normalize(mean: number[], std: number[]): TensorTransform {
  if (!Array.isArray(mean) || !Array.isArray(std) || mean.length === 0 || mean.length !== std.length ||
    ![...mean, ...std].every(Number.isFinite) || std.some((s) => s <= 0)) {
    throw new RangeError(`normalize: mean and std must be equal-length lists of numbers, std positive; got ${JSON.stringify({ mean, std })}`);
  }
  return {
    kind: 'tensor',
    spec: { name: 'normalize', mean: [...mean], std: [...std] },
    apply(x) {
      const c = x.shape[x.ndim - 3];
      if (x.ndim < 3 || c !== mean.length) {
        throw new RangeError(`normalize: expected (C, H, W) or (N, C, H, W) with C = ${mean.length}, got [${x.shape}]`);
      }
      const m = tensor(mean, [mean.length, 1, 1]);
      const s = tensor(std, [std.length, 1, 1]);
      const centred = sub(x, m);
      const out = div(centred, s);
      for (const t of [m, s, centred]) t.dispose();
      return out;
    },
  };
}

/** The steps in order, as one function from an image (file or bytes) to a tensor; `spec` describes them. */
export interface Composed {
  (input: ImageInput): Promise<Tensor>;
  readonly transforms: readonly Transform[];
  readonly spec: TransformSpec[];
  /** The channels toTensor yields (1 when the image is read as grey). */
  readonly channels: 1 | 3;
}

/** Image steps, then exactly one toTensor, then tensor steps; `channels: 1` reads images as grey. */
export function compose(list: Transform[], options: { channels?: 1 | 3 } = {}): Composed {
  if (!Array.isArray(list)) throw new TypeError('compose: expected an array of transforms');
  let tensors = false;  // past the toTensor
  list.forEach((t, i) => {
    if (!t || !['image', 'toTensor', 'tensor'].includes(t.kind)) throw new TypeError(`compose: entry ${i} is not a transform of rn.vision.transforms`);
    if (tensors ? t.kind !== 'tensor' : t.kind === 'tensor') {
      throw new TypeError(`compose: ${t.spec.name} (entry ${i}) is out of order: image steps (resize, centerCrop), then one toTensor, then tensor steps (normalize)`);
    }
    if (t.kind === 'toTensor') tensors = true;
  });
  const toTensorAt = list.findIndex((t) => t.kind === 'toTensor');
  if (toTensorAt < 0) throw new TypeError('compose: the list needs a toTensor() (between the image steps and the tensor steps)');
  const channels = options.channels ?? 3;
  const run = async (input: ImageInput): Promise<Tensor> => {
    let image = await loadImage(input, { channels });
    for (const t of list.slice(0, toTensorAt)) image = await (t as ImageTransform).apply(image);
    let x = (list[toTensorAt] as ToTensor).apply(image);
    for (const t of list.slice(toTensorAt + 1)) {
      const next = (t as TensorTransform).apply(x);
      x.dispose();
      x = next;
    }
    return x;
  };
  return Object.assign(run, { transforms: [...list], spec: list.map((t) => t.spec), channels });
}

/** The transforms a spec (compose(...).spec, as JSON) describes. */
export function fromSpec(spec: TransformSpec[], options: { channels?: 1 | 3 } = {}): Composed {
  if (!Array.isArray(spec)) throw new TypeError('fromSpec: expected an array of { name, ... } steps');
  return compose(spec.map((s, i) => {
    switch (s?.name) {
      case 'resize': return resize(s.size);
      case 'centerCrop': return centerCrop(s.size);
      case 'toTensor': return toTensor();
      case 'normalize': return normalize(s.mean, s.std);
      default: throw new TypeError(`fromSpec: step ${i} has an unknown name ${JSON.stringify((s as { name?: unknown })?.name)}`);
    }
  }), options);
}

/** torchvision's ImageNet evaluation preprocessing: resize(256), centerCrop(224), toTensor, normalize. */
export function imagenet(): Composed {
  return compose([resize(256), centerCrop(224), toTensor(), normalize(IMAGENET_MEAN, IMAGENET_STD)]);
}
