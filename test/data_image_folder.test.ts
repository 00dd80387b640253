// imageFolder on folders of PNG and JPEG files written here with sharp.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { imageFolder } from '../lib/data/index.js';
import { patternImage, removeDir, tempDir } from './helpers/data_files.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = tempDir('folder');
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach(removeDir));

/** Writes HWC bytes with `channels` channels as a PNG or JPEG file. */
async function writeImage(file: string, hwc: Uint8Array, height: number, width: number, channels: 1 | 2 | 3 | 4): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const image = sharp(Buffer.from(hwc), { raw: { width, height, channels } });
  await (file.endsWith('.png') ? image.png() : image.jpeg({ quality: 95 })).toFile(file);
}

/** CHW -> HWC for writing. */
function toHwc(chw: Uint8Array, channels: number, height: number, width: number): Uint8Array {
  const out = new Uint8Array(chw.length);
  for (let c = 0; c < channels; c++) for (let p = 0; p < height * width; p++) out[p * channels + c] = chw[c * height * width + p]!;
  return out;
}

describe('imageFolder', () => {
  it('sorted class folders give the labels; PNGs decode to the exact CHW bytes', async () => {
    const dir = freshDir();
    const [h, w] = [5, 7];
    const chw = [patternImage(3 * h * w, 1), patternImage(3 * h * w, 2), patternImage(3 * h * w, 3)];
    await writeImage(join(dir, 'dog', 'b.png'), toHwc(chw[0]!, 3, h, w), h, w, 3);
    await writeImage(join(dir, 'dog', 'a.png'), toHwc(chw[1]!, 3, h, w), h, w, 3);
    await writeImage(join(dir, 'ant', 'x.png'), toHwc(chw[2]!, 3, h, w), h, w, 3);
    writeFileSync(join(dir, 'dog', 'notes.txt'), 'not an image');
    writeFileSync(join(dir, 'dog', '.hidden.png'), 'skipped');
    mkdirSync(join(dir, '.cache'));
    const ds = await imageFolder(dir);
    expect(ds.classNames).toEqual(['ant', 'dog']);
    expect(ds.numClasses).toBe(2);
    expect(ds.imageShape).toEqual([3, h, w]);
    expect(ds.length).toBe(3);
    expect(ds.get(0)).toEqual({ image: chw[2], label: 0 });
    expect(ds.get(1)).toEqual({ image: chw[1], label: 1 });   // a.png before b.png
    expect(ds.get(2)).toEqual({ image: chw[0], label: 1 });
    expect(ds.arrays().images.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('turns grey, grey+alpha and RGBA PNGs and JPEGs into 3-channel RGB, nested folders included', async () => {
    const dir = freshDir();
    const [h, w] = [4, 4];
    const grey = Uint8Array.from({ length: h * w }, (_, i) => i * 10);
    await writeImage(join(dir, 'a', 'grey.png'), grey, h, w, 1);
    await writeImage(join(dir, 'a', 'greyalpha.png'), Uint8Array.from({ length: 2 * h * w }, (_, i) => (i % 2 ? 128 : grey[i >> 1]!)), h, w, 2);
    await writeImage(join(dir, 'b', 'deeper', 'rgba.png'), Uint8Array.from({ length: 4 * h * w }, (_, i) => [200, 100, 50, 255][i % 4]!), h, w, 4);
    await writeImage(join(dir, 'c', 'solid.jpg'), Uint8Array.from({ length: 3 * h * w }, (_, i) => [30, 140, 220][i % 3]!), h, w, 3);
    const ds = await imageFolder(dir);
    expect(ds.length).toBe(4);
    for (const i of [0, 1]) {
      const { image } = ds.get(i);
      for (let c = 0; c < 3; c++) expect(image.subarray(c * 16, c * 16 + 16)).toEqual(grey);
    }
    expect(ds.get(2).label).toBe(1);
    expect(Array.from(ds.get(2).image.filter((_, k) => k % 16 === 0))).toEqual([200, 100, 50]);
    const jpeg = ds.get(3);
    expect(jpeg.label).toBe(2);
    [30, 140, 220].forEach((v, c) => jpeg.image.subarray(c * 16, c * 16 + 16).forEach((got) => expect(Math.abs(got - v)).toBeLessThanOrEqual(3)));
  });

  it('resizes to size [h, w], and without size names an image of another size', async () => {
    const dir = freshDir();
    await writeImage(join(dir, 'a', '1.png'), new Uint8Array(3 * 10 * 12).fill(90), 10, 12, 3);
    await writeImage(join(dir, 'b', '2.jpeg'), new Uint8Array(3 * 6 * 6).fill(90), 6, 6, 3);
    const resized = await imageFolder(dir, { size: [8, 4] });
    expect(resized.imageShape).toEqual([3, 8, 4]);
    expect(resized.get(0).image.every((v) => v === 90)).toBe(true);
    expect(resized.get(1).image.every((v) => Math.abs(v - 90) <= 3)).toBe(true);
    await expect(imageFolder(dir)).rejects.toThrow(`${join(dir, 'b', '2.jpeg')} is 6x6 but the first image is 12x10`);
  });

  it('imageSize: shorter side resized, then the central square (torchvision\'s Resize + CenterCrop)', async () => {
    const dir = freshDir();
    // 12 wide x 6 high: left half 0, right half 200 -> resize(4) gives 8 x 4, the central 4 x 4 straddles the edge
    const halves = Uint8Array.from({ length: 3 * 6 * 12 }, (_, i) => (Math.floor(i / 3) % 12 < 6 ? 0 : 200));
    await writeImage(join(dir, 'a', 'wide.png'), halves, 6, 12, 3);
    await writeImage(join(dir, 'b', 'tall.png'), new Uint8Array(3 * 20 * 5).fill(60), 20, 5, 3);
    const ds = await imageFolder(dir, { imageSize: 4 });
    expect(ds.imageShape).toEqual([3, 4, 4]);
    const row = Array.from(ds.get(0).image.subarray(0, 4));       // first row of the red plane
    expect(row[0]).toBeLessThan(60);
    expect(row[3]).toBeGreaterThan(140);
    expect(ds.get(1).image.every((v) => v === 60)).toBe(true);
    await expect(imageFolder(dir, { imageSize: 0 })).rejects.toThrow('imageSize must be a positive integer');
    await expect(imageFolder(dir, { imageSize: 4, size: [4, 4] })).rejects.toThrow('pass size or imageSize, not both');
  });

  it('names an undecodable file, an empty class folder and a folder without classes', async () => {
    const dir = freshDir();
    await writeImage(join(dir, 'a', 'ok.png'), new Uint8Array(3 * 4 * 4), 4, 4, 3);
    writeFileSync(join(dir, 'a', 'broken.png'), 'this is not a PNG');
    await expect(imageFolder(dir)).rejects.toThrow(`cannot decode ${join(dir, 'a', 'broken.png')}`);
    const empty = freshDir();
    mkdirSync(join(empty, 'cats'));
    await expect(imageFolder(empty)).rejects.toThrow(`class folder ${join(empty, 'cats')} has no .jpg, .jpeg or .png files`);
    await expect(imageFolder(freshDir())).rejects.toThrow('has no class sub-folders');
    await expect(imageFolder(join(empty, 'missing'))).rejects.toThrow(`cannot read ${join(empty, 'missing')}`);
  });

  it('rejects bad arguments', async () => {
    await expect(imageFolder('')).rejects.toThrow(TypeError);
    await expect(imageFolder('/tmp', { size: [0, 3] })).rejects.toThrow('size must be [height, width]');
    await expect(imageFolder('/tmp', { size: 32 } as unknown as { size: [number, number] })).rejects.toThrow(TypeError);
    await expect(imageFolder('/tmp', { resize: true } as object)).rejects.toThrow("unknown option 'resize'");
  });
});
