// rn.vision: decoding (files and buffers, RGB and grey, corrupt input), torchvision's resize and
// centre-crop geometry (shorter side with the longer truncated; crop offsets rounded half to
// even, as Python's round), toTensor's CHW layout, normalize, compose's order and fromSpec; and,
// where /usr/bin/python3 has torchvision, the whole resize-crop-toTensor chain against
// torchvision's on PIL (resampling differs: libvips' bilinear against PIL's, so a tolerance).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { removeDir, tempDir } from './helpers/data_files.js';

const T = rn.vision.transforms;
const dir = tempDir('vision');
afterAll(() => removeDir(dir));

/** A width x height RGB image whose pixel (x, y) is (x, y, x + y) mod 256. */
function gradient(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x % 256, y % 256, (x + y) % 256], (y * width + x) * 3);
  }
  return data;
}
async function png(width: number, height: number): Promise<Buffer> {
  return sharp(gradient(width, height), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

describe('loadImage', () => {
  it('decodes files and buffers to (H, W, C) bytes, RGB or grey', async () => {
    const bytes = await png(5, 3);
    const file = join(dir, 'g.png');
    writeFileSync(file, bytes);
    for (const input of [file, bytes]) {
      const image = await rn.vision.loadImage(input);
      expect([image.width, image.height, image.channels]).toEqual([5, 3, 3]);
      expect(Array.from(image.data)).toEqual(Array.from(gradient(5, 3)));
    }
    const grey = await rn.vision.loadImage(bytes, { channels: 1 });
    expect(grey.channels).toBe(1);
    expect(grey.data.length).toBe(15);
  });

  it('a corrupt file or a wrong argument is a clear error', async () => {
    const bad = join(dir, 'bad.jpg');
    writeFileSync(bad, 'not an image');
    await expect(rn.vision.loadImage(bad)).rejects.toThrow(/cannot decode .*bad\.jpg as an image/);
    await expect(rn.vision.loadImage(new Uint8Array([1, 2, 3]))).rejects.toThrow(/cannot decode a 3-byte buffer/);
    await expect(rn.vision.loadImage(42 as never)).rejects.toThrow(TypeError);
  });
});

describe('resize and centerCrop follow torchvision', () => {
  it('resize(n) scales the shorter side to n and truncates the longer; [h, w] is exact', async () => {
    const cases: [number, number, number, [number, number]][] = [
      // width, height, size -> [height, width] (torchvision: int(size * long / short))
      [100, 50, 32, [32, 64]], [41, 36, 32, [32, 36]], [30, 90, 32, [96, 32]], [40, 40, 32, [32, 32]],
    ];
    for (const [width, height, size, expected] of cases) {
      const image = await rn.vision.loadImage(await png(width, height));
      const resized = await rn.vision.resizeImage(image, size);
      expect([resized.height, resized.width], `${width}x${height}`).toEqual(expected);
    }
    const exact = await rn.vision.resizeImage(await rn.vision.loadImage(await png(41, 36)), [20, 30]);
    expect([exact.height, exact.width]).toEqual([20, 30]);
    const uniform = { data: new Uint8Array(60 * 40 * 3).fill(77), width: 60, height: 40, channels: 3 as const };
    expect(new Set((await rn.vision.resizeImage(uniform, 16)).data)).toEqual(new Set([77]));
    await expect(rn.vision.resizeImage(uniform, 0)).rejects.toThrow(RangeError);
  });

  it('centerCrop takes the central block, offsets rounded half to even', () => {
    // 11 x 9 image: crop 4 x 4 -> left = round(3.5) = 4, top = round(2.5) = 2
    const image = { data: gradient(11, 9), width: 11, height: 9, channels: 3 as const };
    const crop = rn.vision.centerCropImage(image, 4);
    expect([crop.width, crop.height]).toEqual([4, 4]);
    expect(Array.from(crop.data.subarray(0, 3))).toEqual([4, 2, 6]);   // pixel (x = 4, y = 2)
    const wide = rn.vision.centerCropImage(image, [3, 5]);              // left = round(3) = 3, top = round(3) = 3
    expect(Array.from(wide.data.subarray(0, 3))).toEqual([3, 3, 6]);
    expect(() => rn.vision.centerCropImage(image, 12)).toThrow(/cannot crop 12x12 from a 11x9 image/);
  });
});

describe('compose', () => {
  it('toTensor gives (C, H, W) on [0, 1]; normalize per channel; fromSpec rebuilds the same steps', async () => {
    const bytes = await png(6, 4);
    const mean = [0.1, 0.2, 0.3], std = [0.5, 0.25, 2];
    const preprocess = T.compose([T.resize(4), T.centerCrop([4, 4]), T.toTensor(), T.normalize(mean, std)]);
    const x = await preprocess(bytes);
    expect(x.shape).toEqual([3, 4, 4]);
    const values = x.toArray('float32');
    // resize(4) of 6x4 is the identity; the crop's left offset is round(1) = 1: pixel (1 + j, i)
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        const [r, g, b] = [1 + j, i, 1 + j + i];
        expect(values[i * 4 + j]).toBeCloseTo((r / 255 - mean[0]!) / std[0]!, 6);
        expect(values[16 + i * 4 + j]).toBeCloseTo((g / 255 - mean[1]!) / std[1]!, 6);
        expect(values[32 + i * 4 + j]).toBeCloseTo((b / 255 - mean[2]!) / std[2]!, 6);
      }
    }
    const again = await T.fromSpec(JSON.parse(JSON.stringify(preprocess.spec)) as rn.vision.transforms.TransformSpec[])(bytes);
    expect(Array.from(again.toArray('float32'))).toEqual(Array.from(values));
    x.dispose();
    again.dispose();
  });

  it('rejects steps out of order, a missing toTensor, bad sizes and statistics', async () => {
    expect(() => T.compose([T.toTensor(), T.resize(4)])).toThrow(/resize \(entry 1\) is out of order/);
    expect(() => T.compose([T.normalize([0], [1]), T.toTensor()])).toThrow(/normalize \(entry 0\) is out of order/);
    expect(() => T.compose([T.toTensor(), T.toTensor()])).toThrow(/out of order/);
    expect(() => T.compose([T.resize(4)])).toThrow(/needs a toTensor/);
    expect(() => T.resize(-1)).toThrow(RangeError);
    expect(() => T.centerCrop([2, 0] as never)).toThrow(RangeError);
    expect(() => T.normalize([0.5], [0])).toThrow(/std positive/);
    expect(() => T.fromSpec([{ name: 'blur' } as never])).toThrow(/unknown name "blur"/);
    const wrongChannels = T.compose([T.toTensor(), T.normalize([0.5], [0.5])]);
    await expect(wrongChannels(await png(2, 2))).rejects.toThrow(/C = 1, got \[3,2,2\]/);
  });

  it('imagenet() is torchvision\'s evaluation preprocessing; the 1000 class names are shipped', async () => {
    expect(T.imagenet().spec).toEqual([{ name: 'resize', size: 256 }, { name: 'centerCrop', size: 224 }, { name: 'toTensor' },
      { name: 'normalize', mean: T.IMAGENET_MEAN, std: T.IMAGENET_STD }]);
    const x = await T.imagenet()(await png(300, 260));
    expect(x.shape).toEqual([3, 224, 224]);
    x.dispose();
    expect(rn.vision.imagenetClasses).toHaveLength(1000);
    expect([rn.vision.imagenetClasses[0], rn.vision.imagenetClasses[207], rn.vision.imagenetClasses[281], rn.vision.imagenetClasses[999]])
      .toEqual(['tench', 'golden retriever', 'tabby', 'toilet tissue']);
  });
});

const PYTHON = '/usr/bin/python3';
const torchvisionMissing = !existsSync(PYTHON) ? `${PYTHON} not found`
  : spawnSync(PYTHON, ['-c', 'import torchvision, PIL, numpy'], { timeout: 120_000 }).status === 0 ? null : `${PYTHON} cannot import torchvision`;

describe.skipIf(torchvisionMissing !== null)('against torchvision on PIL', () => {
  it('resize(256), centerCrop(224), toTensor of a 400x300 image: within 1/255 on average, 4/255 at most', async () => {
    // The image and torchvision's tensor, made by PIL + torchvision (float32 CHW bytes).
    const script = `
import sys, numpy as np
from PIL import Image
from torchvision import transforms
rng = np.random.default_rng(1)
y, x = np.mgrid[0:300, 0:400] / 300.0
fields = np.stack([np.sin(9 * x + 2 * y), np.cos(7 * y - 3 * x), np.sin(5 * (x + y))], -1)
pixels = np.clip(127.5 + 100 * fields + rng.normal(0, 12, (300, 400, 3)), 0, 255).astype(np.uint8)
Image.fromarray(pixels).save(sys.argv[1] + '/photo.png')
t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()])(Image.open(sys.argv[1] + '/photo.png').convert('RGB'))
open(sys.argv[1] + '/torchvision.f32', 'wb').write(t.numpy().astype('<f4').tobytes())
`;
    const r = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const bytes = readFileSync(join(dir, 'torchvision.f32'));
    const reference = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const x = await T.compose([T.resize(256), T.centerCrop(224), T.toTensor()])(join(dir, 'photo.png'));
    const ours = x.toArray('float32');
    x.dispose();
    expect(ours.length).toBe(reference.length);
    let sum = 0, max = 0;
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i]! - reference[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    console.log(`resize + crop vs torchvision/PIL: mean ${(255 * sum / ours.length).toFixed(2)}/255, max ${(255 * max).toFixed(1)}/255`);
    expect((255 * sum) / ours.length).toBeLessThan(1);
    expect(255 * max).toBeLessThanOrEqual(4 + 1e-3);
  }, 120_000);
});
