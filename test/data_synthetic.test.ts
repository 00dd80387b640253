// The synthetic dataset: determinism from the seed, splits, class balance, laziness, speed.
import { describe, expect, it } from 'vitest';
import { synthetic, SyntheticDataset } from '../lib/data/index.js';

function meanAbsDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('synthetic', () => {
  it('has 10 named classes of 3x32x32 images, label i % 10, exactly balanced', () => {
    const ds = synthetic({ size: 1000 });
    expect(ds).toBeInstanceOf(SyntheticDataset);
    expect(ds.length).toBe(1000);
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames).toHaveLength(10);
    expect(ds.imageShape).toEqual([3, 32, 32]);
    const counts = new Array<number>(10).fill(0);
    for (const label of ds.arrays().labels) counts[label]!++;
    expect(counts).toEqual(new Array<number>(10).fill(100));
    expect(ds.get(13).label).toBe(3);
    expect(ds.get(13).image).toHaveLength(3072);
  });

  it('is deterministic from the seed; other seeds and the test split give other images', () => {
    const a = synthetic({ size: 50, seed: 7 }).arrays().images;
    const b = synthetic({ size: 50, seed: 7 }).arrays().images;
    expect(Buffer.compare(a, b)).toBe(0);
    const otherSeed = synthetic({ size: 50, seed: 8 }).arrays().images;
    const testSplit = synthetic({ size: 50, seed: 7, train: false }).arrays().images;
    for (let i = 0; i < 50; i++) {
      const slice = (x: Uint8Array) => x.subarray(i * 3072, (i + 1) * 3072);
      expect(meanAbsDifference(slice(a), slice(otherSeed))).toBeGreaterThan(5);
      expect(meanAbsDifference(slice(a), slice(testSplit))).toBeGreaterThan(5);
    }
  });

  it('draws an image the same whether alone, first or among all, and only when asked', () => {
    const lazy = synthetic({ size: 200, seed: 3 });
    const alone = lazy.get(157).image;
    const all = synthetic({ size: 200, seed: 3 }).arrays().images;
    expect(alone).toEqual(all.subarray(157 * 3072, 158 * 3072));
    expect(synthetic({ size: 1000, seed: 3 }).get(157).image).toEqual(alone);   // independent of the size
    // Nothing is drawn up front: a large dataset is ready at once.
    const start = performance.now();
    synthetic({ size: 50000, seed: 3 }).get(49999);
    expect(performance.now() - start).toBeLessThan(250);
  });

  it('images use the whole colour range and differ from one another within a class', () => {
    const ds = synthetic({ size: 40, seed: 1 });
    const first = ds.get(0).image;
    expect(Math.max(...first) - Math.min(...first)).toBeGreaterThan(60);
    expect(meanAbsDifference(ds.get(0).image, ds.get(10).image)).toBeGreaterThan(10);   // both class 0
  });

  it('draws 10,000 images in well under two seconds', () => {
    const start = performance.now();
    const { images } = synthetic({ size: 10000, seed: 5 }).arrays();
    const elapsed = performance.now() - start;
    expect(images.length).toBe(10000 * 3072);
    expect(elapsed).toBeLessThan(2000);
  });

  it('rejects bad options', () => {
    expect(() => synthetic({ size: -1 })).toThrow(RangeError);
    expect(() => synthetic({ size: 2.5 })).toThrow(RangeError);
    expect(() => synthetic({ seed: -3 })).toThrow(RangeError);
    expect(() => synthetic({ train: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(() => synthetic({ count: 3 } as object)).toThrow("unknown option 'count'");
    expect(() => synthetic({ size: 5 }).get(5)).toThrow(RangeError);
  });
});
