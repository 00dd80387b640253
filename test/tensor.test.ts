// Tensors: creation, dtypes and their conversions, memory formats, data access, seeding.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

describe('creation', () => {
  it('tensor() infers shapes from nested arrays and takes typed arrays', () => {
    rn.scope(() => {
      const t = rn.tensor([[1, 2, 3], [4, 5, 6]]);
      expect(t.shape).toEqual([2, 3]);
      expect(t.dtype).toBe('float32');
      expect(Array.from(t.toArray() as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(rn.tensor(new Int32Array([1, 2])).dtype).toBe('int32');
      expect(rn.tensor(new Uint8Array([255, 0])).dtype).toBe('uint8');
      const i64 = rn.tensor([3, -4], [2], { dtype: 'int64' });
      expect(i64.toArray()).toEqual(new BigInt64Array([3n, -4n]));
      expect(rn.tensor(7).shape).toEqual([]);
      expect(rn.tensor(7).item()).toBe(7);
    });
  });

  it('zeros, ones, full, arange', () => {
    rn.scope(() => {
      expect(Array.from(rn.zeros([2, 2]).toArray(), Number)).toEqual([0, 0, 0, 0]);
      expect(Array.from(rn.ones([3], { dtype: 'int32' }).toArray(), Number)).toEqual([1, 1, 1]);
      expect(Array.from(rn.full([2], 2.5).toArray(), Number)).toEqual([2.5, 2.5]);
      const a = rn.arange(5);
      expect(a.dtype).toBe('int64');
      expect(Array.from(a.toArray(), Number)).toEqual([0, 1, 2, 3, 4]);
      expect(Array.from(rn.arange(0, 1, 0.25).toArray(), Number)).toEqual([0, 0.25, 0.5, 0.75]);
    });
  });

  it('rand and randn are reproducible from manualSeed and have the right moments', () => {
    rn.scope(() => {
      rn.manualSeed(42);
      const a = rn.randn([10000]);
      const u = rn.rand([10000]);
      rn.manualSeed(42);
      const b = rn.randn([10000]);
      expect(Array.from(a.toArray(), Number)).toEqual(Array.from(b.toArray(), Number));
      const av = a.toArray() as Float32Array;
      const mean = av.reduce((s, v) => s + v, 0) / av.length;
      const variance = av.reduce((s, v) => s + (v - mean) ** 2, 0) / av.length;
      expect(Math.abs(mean)).toBeLessThan(0.05);
      expect(Math.abs(variance - 1)).toBeLessThan(0.05);
      const uv = u.toArray() as Float32Array;
      expect(Math.min(...uv)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...uv)).toBeLessThan(1);
      expect(Math.abs(uv.reduce((s, v) => s + v, 0) / uv.length - 0.5)).toBeLessThan(0.02);
    });
  });
});

describe('dtypes', () => {
  it('float16 rounds to nearest even and covers subnormals, infinities and NaN', () => {
    rn.scope(() => {
      // 1 + 2^-11 is exactly halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
      const inputs = [1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 2 ** -24, 2 ** -25, -0.1, Infinity, NaN];
      const back = Array.from(rn.tensor(inputs).to({ dtype: 'float16' }).toArray() as Float32Array);
      expect(back.slice(0, 8)).toEqual([1, 1, 1 + 2 ** -9, 65504, Infinity, 2 ** -24, 0, Math.fround(-0.0999755859375)]);
      expect(back[8]).toBe(Infinity);
      expect(back[9]).toBeNaN();
    });
  });

  it('bfloat16 keeps 8 bits of mantissa, rounding to nearest even', () => {
    rn.scope(() => {
      const inputs = [1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.14159265, -1e30];
      const back = Array.from(rn.tensor(inputs).to({ dtype: 'bfloat16' }).toArray() as Float32Array);
      expect(back.slice(0, 4)).toEqual([1, 1, 1 + 2 ** -6, 3.140625]);
      expect(Math.abs(back[4]! / -1e30 - 1)).toBeLessThan(2 ** -8);
    });
  });

  it('integer casts and uint8 images to float', () => {
    rn.scope(() => {
      const img = rn.tensor(new Uint8Array([0, 128, 255]));
      expect(Array.from(img.to({ dtype: 'float32' }).toArray(), Number)).toEqual([0, 128, 255]);
      expect(Array.from(rn.tensor([1.7, -2.2]).to({ dtype: 'int32' }).toArray() as Int32Array)).toEqual([1, -2]);
      expect(rn.tensor([5], [1], { dtype: 'int32' }).to({ dtype: 'int64' }).toArray()).toEqual(new BigInt64Array([5n]));
    });
  });
});

describe('memory formats and data access', () => {
  it('channelsLast keeps the logical layout: toArray is the same, storage differs', () => {
    rn.scope(() => {
      const x = rn.randn([2, 3, 4, 5]);
      const last = x.to({ memoryFormat: 'channelsLast' });
      expect(last.memoryFormat).toBe('channelsLast');
      expect(last.shape).toEqual([2, 3, 4, 5]);
      expect(Array.from(last.toArray(), Number)).toEqual(Array.from(x.toArray(), Number));
      expect(last.to({ memoryFormat: 'contiguous' }).memoryFormat).toBe('contiguous');
      const made = rn.zeros([1, 2, 2, 2], { memoryFormat: 'channelsLast' });
      expect(made.memoryFormat).toBe('channelsLast');
      expect(() => rn.zeros([2, 2], { memoryFormat: 'channelsLast' })).toThrow(/4-D/);
    });
  });

  it('data() reads asynchronously and equals toArray()', async () => {
    const t = rn.randn([1000]);
    const viaPromise = await t.data();
    expect(Array.from(viaPromise, Number)).toEqual(Array.from(t.toArray(), Number));
    t.dispose();
  });

  it("toArray('float32') and data('float32') are typed Float32Array and convert integer dtypes", async () => {
    rn.scope(() => {
      const a = rn.tensor([1.5, 2.5, 4]);
      const b = rn.tensor([0.5, 0.5, 1]);
      const av = a.toArray('float32');
      const bv = b.toArray('float32');
      // Typed as Float32Array: arithmetic on elements needs no cast under strict mode (npm run typecheck).
      const diff = av.map((v, i) => v - bv[i]!);
      expect(Array.from(diff)).toEqual([1, 2, 3]);
      expect(av).toBeInstanceOf(Float32Array);
      expect(Array.from(rn.tensor([3, -4], [2], { dtype: 'int64' }).toArray('float32'))).toEqual([3, -4]);
      expect(Array.from(rn.tensor([7, 255], [2], { dtype: 'uint8' }).toArray('float32'))).toEqual([7, 255]);
      expect(() => (a.toArray as (as: string) => unknown)('float64')).toThrow(/only conversion is 'float32'/);
    });
    const t = rn.tensor([1, 2], [2], { dtype: 'int32' });
    const read: Float32Array = await t.data('float32');
    expect(read).toBeInstanceOf(Float32Array);
    expect(read[0]! + read[1]!).toBe(3);
    t.dispose();
  });

  it('reshape and flatten share storage; -1 is inferred', () => {
    rn.scope(() => {
      const x = rn.arange(12, undefined, 1, { dtype: 'float32' });
      const before = rn.memory().liveStorages;
      const y = x.reshape([3, -1]);
      expect(y.shape).toEqual([3, 4]);
      expect(rn.memory().liveStorages).toBe(before);
      expect(rn.flatten(y, 0).shape).toEqual([12]);
      expect(() => x.reshape([5, -1])).toThrow(RangeError);
    });
  });

  it('item() needs exactly one element; to("cpu") is the tensor itself', () => {
    rn.scope(() => {
      const t = rn.ones([2]);
      expect(() => t.item()).toThrow(RangeError);
      expect(t.to('cpu')).toBe(t);
    });
  });
});

describe('backends', () => {
  it('reports the CPU backend and why CUDA is or is not available', () => {
    const b = rn.backends();
    expect(b.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(['builtin', 'openblas']).toContain(b.cpu.gemm);
    expect(typeof b.cuda.available).toBe('boolean');
    if (!b.cuda.available) expect(b.cuda.reason).toMatch(/\w/);
  });
});
