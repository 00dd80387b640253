// Writers for small files in the real dataset formats (CIFAR-10 binary records, IDX), temp
// directories, and deterministic test images.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** A fresh temp directory; remove it with removeDir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cudnn-resnet-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** An image of `size` bytes whose values depend on the seed and position (no two seeds alike). */
export function patternImage(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed * 31 + ((i * seed) >> 3)) % 256);
}

export interface LabelledImage {
  label: number;
  image: Uint8Array;
}

/** CIFAR-10 binary records: for each sample, 1 label byte then its 3072 CHW bytes. */
export function cifarRecords(samples: LabelledImage[]): Uint8Array {
  const out = new Uint8Array(samples.length * 3073);
  samples.forEach(({ label, image }, r) => {
    out[r * 3073] = label;
    out.set(image, r * 3073 + 1);
  });
  return out;
}

/** An IDX file: big-endian magic 0x000008NN (NN = dims.length), the dims, then the bytes. */
export function idxFile(dims: number[], data: Uint8Array, magic = 0x00000800 + dims.length): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

export interface IdxSplit {
  images: Uint8Array;       // (N, H, W)
  labels: Uint8Array;       // (N)
  height: number;
  width: number;
}

/** A split of N images of HxW with pattern pixels and labels i % 10. */
export function idxSplit(count: number, height = 28, width = 28): IdxSplit {
  const images = new Uint8Array(count * height * width);
  for (let i = 0; i < count; i++) images.set(patternImage(height * width, i + 1), i * height * width);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), height, width };
}

/** Writes `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte`, gzipped with a .gz suffix when asked. */
export function writeIdxSplit(dir: string, prefix: 'train' | 't10k', split: IdxSplit, gzip = false): void {
  const count = split.labels.length;
  const files: [string, Uint8Array][] = [
    [`${prefix}-images-idx3-ubyte`, idxFile([count, split.height, split.width], split.images)],
    [`${prefix}-labels-idx1-ubyte`, idxFile([count], split.labels)],
  ];
  for (const [name, bytes] of files) writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
}
