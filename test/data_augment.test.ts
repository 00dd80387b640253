// Rng, randomCrop, randomHorizontalFlip and normalize: determinism from a seed and correctness.
import { describe, expect, it } from 'vitest';
import { normalize, randomCrop, randomHorizontalFlip, Rng, type ImageShape } from '../lib/data/index.js';

const SHAPE: ImageShape = [3, 8, 10];
/** Every pixel distinct and non-zero, so a shifted copy identifies its shift. */
const IMAGE = Uint8Array.from({ length: 240 }, (_, i) => i + 1);

/** The input pixel (c, y + dy, x + dx), or 0 outside the image. */
function shifted(image: Uint8Array, [channels, height, width]: ImageShape, dy: number, dx: number): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let c = 0; c < channels; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const sy = y + dy;
    const sx = x + dx;
    if (sy >= 0 && sy < height && sx >= 0 && sx < width) out[(c * height + y) * width + x] = image[(c * height + sy) * width + sx]!;
  }
  return out;
}

function mirrored(image: Uint8Array, [channels, height, width]: ImageShape): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let c = 0; c < channels; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    out[(c * height + y) * width + x] = image[(c * height + y) * width + width - 1 - x]!;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

describe('Rng', () => {
  it('repeats from the same seed and stream, differs across seeds and streams', () => {
    const draw = (rng: Rng) => Array.from({ length: 20 }, () => rng.uint32());
    expect(draw(new Rng(5))).toEqual(draw(new Rng(5)));
    expect(draw(new Rng(5, 3))).toEqual(draw(new Rng(5, 3)));
    expect(draw(new Rng(5))).not.toEqual(draw(new Rng(6)));
    expect(draw(new Rng(5))).not.toEqual(draw(new Rng(5, 1)));
    expect(draw(new Rng(2 ** 40))).not.toEqual(draw(new Rng(0)));
  });

  it('next() is uniform in [0, 1), int(n) in [0, n), permutation(n) a permutation', () => {
    const rng = new Rng(11);
    const draws = Array.from({ length: 20000 }, () => rng.next());
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(draws.reduce((a, b) => a + b, 0) / draws.length).toBeCloseTo(0.5, 1);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[rng.int(7)]!++;
    counts.forEach((c) => expect(c).toBeGreaterThan(850));
    const perm = rng.permutation(100);
    expect(Array.from(perm).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(perm)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('rejects bad arguments', () => {
    expect(() => new Rng(-1)).toThrow(RangeError);
    expect(() => new Rng(1.5)).toThrow(TypeError);
    expect(() => new Rng(0, NaN)).toThrow(TypeError);
    expect(() => new Rng(0).int(0)).toThrow(RangeError);
    expect(() => new Rng(0).int(2.5)).toThrow(TypeError);
    expect(() => new Rng(0).permutation(-2)).toThrow(RangeError);
  });
});

describe('randomCrop', () => {
  it('is a crop of the zero-padded image: a shift within the padding, every shift reachable', () => {
    const rng = new Rng(1);
    const seen = new Set<string>();
    for (let trial = 0; trial < 600; trial++) {
      const out = randomCrop(IMAGE, SHAPE, 4, rng);
      const matches: string[] = [];
      for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) {
        if (sameBytes(out, shifted(IMAGE, SHAPE, dy, dx))) matches.push(`${dy},${dx}`);
      }
      expect(matches).toHaveLength(1);
      seen.add(matches[0]!);
    }
    expect(seen.size).toBe(81);
  });

  it('repeats from the seed, defaults to padding 4, and padding 0 is the identity', () => {
    const crops = (padding: number | undefined) => Array.from({ length: 10 }, (_, i) => randomCrop(IMAGE, SHAPE, padding, new Rng(9, i)));
    expect(crops(undefined)).toEqual(crops(4));
    expect(crops(4)).toEqual(crops(4));
    expect(randomCrop(IMAGE, SHAPE, 0, new Rng(3))).toEqual(IMAGE);
    // The draws: rng.int(9) for the top offset, then for the left offset.
    const rng = new Rng(4);
    const [top, left] = [rng.int(9), rng.int(9)];
    expect(randomCrop(IMAGE, SHAPE, 4, new Rng(4))).toEqual(shifted(IMAGE, SHAPE, top - 4, left - 4));
  });

  it('rejects bad arguments', () => {
    expect(() => randomCrop(IMAGE, [3, 8, 9], 4, new Rng(0))).toThrow(RangeError);
    expect(() => randomCrop(Array.from(IMAGE) as unknown as Uint8Array, SHAPE, 4, new Rng(0))).toThrow(TypeError);
    expect(() => randomCrop(IMAGE, SHAPE, -1, new Rng(0))).toThrow(RangeError);
    expect(() => randomCrop(IMAGE, SHAPE, 4, Math as unknown as Rng)).toThrow(TypeError);
    expect(() => randomCrop(IMAGE, [3, 80] as unknown as ImageShape, 4, new Rng(0))).toThrow(TypeError);
  });
});

describe('randomHorizontalFlip', () => {
  it('returns a mirror (about half the time) or a copy, never the input itself', () => {
    const rng = new Rng(2);
    let flips = 0;
    for (let trial = 0; trial < 400; trial++) {
      const out = randomHorizontalFlip(IMAGE, SHAPE, rng);
      expect(out).not.toBe(IMAGE);
      if (sameBytes(out, mirrored(IMAGE, SHAPE))) flips++;
      else expect(sameBytes(out, IMAGE)).toBe(true);
    }
    expect(flips).toBeGreaterThan(150);
    expect(flips).toBeLessThan(250);
  });

  it('follows rng.next() < 0.5 and a double flip is the identity', () => {
    const rng = new Rng(8);
    const flip = rng.next() < 0.5;
    const out = randomHorizontalFlip(IMAGE, SHAPE, new Rng(8));
    expect(sameBytes(out, flip ? mirrored(IMAGE, SHAPE) : IMAGE)).toBe(true);
    expect(mirrored(mirrored(IMAGE, SHAPE), SHAPE)).toEqual(IMAGE);
    expect(() => randomHorizontalFlip(IMAGE, SHAPE, undefined as unknown as Rng)).toThrow(TypeError);
  });
});

describe('normalize', () => {
  it('maps each byte to (byte / 255 - mean[c]) / std[c]', () => {
    const mean = [0.1, 0.5, 0.9];
    const std = [0.2, 0.25, 0.5];
    const out = normalize(mean, std)(IMAGE, SHAPE);
    expect(out).toBeInstanceOf(Float32Array);
    IMAGE.forEach((v, i) => {
      const c = Math.floor(i / 80);
      expect(out[i]).toBeCloseTo((v / 255 - mean[c]!) / std[c]!, 5);
    });
  });

  it('rejects bad mean and std, and images with another channel count', () => {
    expect(() => normalize([0.5, 0.5], [0.2, 0.2, 0.2])).toThrow(RangeError);
    expect(() => normalize([0.5], [0])).toThrow(RangeError);
    expect(() => normalize([], [])).toThrow(TypeError);
    expect(() => normalize(['a'] as unknown as number[], [1])).toThrow(TypeError);
    expect(() => normalize([0.5], [0.5])(IMAGE, SHAPE)).toThrow('the image has 3 channels but mean and std have 1');
  });
});
