// imageFolder: one sub-folder per class (sorted names give the class indices), JPEG and PNG files
// decoded with sharp to 3-channel RGB, resized when asked (to [h, w], or as torchvision's
// Resize(s) + CenterCrop(s)), and held in memory in CHW order.
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { centerCropImage, loadImage, resizeImage } from '../vision/image.js';
import { ArrayDataset, checkDirectory, imageSize, sharedBytes, sharedInt32, type ImageShape } from './dataset.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);
/** Images decoded at once; sharp spreads each decode over its own thread pool. */
const DECODES_IN_FLIGHT = 8;

export interface ImageFolderOptions {
  /** [height, width] to resize every image to (stretching, as torchvision's Resize((h, w))). */
  size?: [number, number];
  /** The shorter side resized to this, then the central imageSize x imageSize crop (torchvision's Resize + CenterCrop). */
  imageSize?: number;
}

/**
 * Decodes every .jpg/.jpeg/.png under `dir`/<class>/ (sub-folders of a class folder included)
 * up front and resolves to an in-memory dataset of 3xHxW images. Without `size`, every image
 * must have the size of the first one. Hidden files and folders are skipped.
 */
export async function imageFolder(dir: string, options: ImageFolderOptions = {}): Promise<ArrayDataset> {
  const op = 'imageFolder';
  checkDirectory(op, dir);
  const { size, square } = checkSizeOption(op, options);
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: Error) => {
    throw new Error(`${op}: cannot read ${dir} (${err.message})`);
  });
  const classNames = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  if (classNames.length === 0) throw new Error(`${op}: ${dir} has no class sub-folders`);
  const files: string[] = [];
  const fileLabels: number[] = [];
  for (const [label, name] of classNames.entries()) {
    const classFiles = await listImages(join(dir, name));
    if (classFiles.length === 0) throw new Error(`${op}: class folder ${join(dir, name)} has no .jpg, .jpeg or .png files`);
    for (const file of classFiles) {
      files.push(file);
      fileLabels.push(label);
    }
  }
  const [height, width] = size ?? (square ? [square, square] : await firstImageSize(op, files[0]!));
  const shape: ImageShape = [3, height, width];
  const images = sharedBytes(files.length * imageSize(shape));   // (N, 3, H, W)
  const labels = sharedInt32(files.length);                       // (N)
  labels.set(fileLabels);
  let next = 0;
  const decodeRemaining = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) await decodeInto(op, files[i]!, shape, size !== undefined, square, images, i);
  };
  await Promise.all(Array.from({ length: Math.min(DECODES_IN_FLIGHT, files.length) }, decodeRemaining));
  return new ArrayDataset(images, labels, shape, { classNames });
}

function checkSizeOption(op: string, options: unknown): { size?: [number, number]; square?: number } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${op}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const unknownKey = Object.keys(options).find((k) => k !== 'size' && k !== 'imageSize');
  if (unknownKey !== undefined) throw new TypeError(`${op}: unknown option '${unknownKey}' (known: size, imageSize)`);
  const { size, imageSize } = options as { size?: unknown; imageSize?: unknown };
  if (imageSize !== undefined) {
    if (!Number.isInteger(imageSize) || (imageSize as number) < 1) throw new TypeError(`${op}: imageSize must be a positive integer, got ${JSON.stringify(imageSize)}`);
    if (size !== undefined) throw new TypeError(`${op}: pass size or imageSize, not both`);
    return { square: imageSize as number };
  }
  if (size === undefined) return {};
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
    throw new TypeError(`${op}: size must be [height, width] with positive integers, got ${JSON.stringify(size)}`);
  }
  return { size: [size[0], size[1]] };
}

/** The image files under `folder`, depth first, in sorted order. */
async function listImages(folder: string): Promise<string[]> {
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...(await listImages(path)));
    else if (entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(path);
  }
  return files;
}

async function firstImageSize(op: string, file: string): Promise<[number, number]> {
  const meta = await sharp(file).metadata().catch((err: Error) => {
    throw new Error(`${op}: cannot decode ${file} (${err.message})`);
  });
  return [meta.height, meta.width];
}

/** Decodes `file` to RGB (resized to the shape when `resize`) and writes it as image `index`. */
async function decodeInto(op: string, file: string, shape: ImageShape, resize: boolean, square: number | undefined,
  images: Uint8Array, index: number): Promise<void> {
  const [, height, width] = shape;
  const { data, info } = square ? await resizedAndCropped(op, file, square) : await decoded(op, file, shape, resize);
  if (info.width !== width || info.height !== height) {
    throw new Error(`${op}: ${file} is ${info.width}x${info.height} but the first image is ${width}x${height}; pass { size: [h, w] } or { imageSize } to resize every image (the CLI: --image-size)`);
  }
  if (info.channels !== 3) throw new Error(`${op}: ${file} decoded to ${info.channels} channels, expected RGB`);
  // HWC (sharp's raw output) -> CHW.
  const plane = height * width;
  const base = index * 3 * plane;
  for (let p = 0; p < plane; p++) {
    images[base + p] = data[3 * p]!;
    images[base + plane + p] = data[3 * p + 1]!;
    images[base + 2 * plane + p] = data[3 * p + 2]!;
  }
}

async function decoded(op: string, file: string, shape: ImageShape, resize: boolean) {
  const [, height, width] = shape;
  let pipeline = sharp(file).removeAlpha().toColourspace('srgb');
  if (resize) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  return pipeline.raw().toBuffer({ resolveWithObject: true }).catch((err: Error) => {
    throw new Error(`${op}: cannot decode ${file} (${err.message})`);
  });
}

/** The shorter side to `square`, then the central square (torchvision's Resize(s) + CenterCrop(s)). */
async function resizedAndCropped(op: string, file: string, square: number) {
  const image = await loadImage(file).catch((err: Error) => {
    throw new Error(`${op}: cannot decode ${file} (${err.message.replace(/^loadImage: /, '')})`);
  });
  const cropped = centerCropImage(await resizeImage(image, square), square);
  return { data: cropped.data, info: { width: cropped.width, height: cropped.height, channels: cropped.channels as number } };
}
