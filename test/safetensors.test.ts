// safetensors: round trips of every dtype, the writer's exact bytes, files built by hand,
// the 16-bit float conversions, header-only reads, and atomic writes.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import {
  loadSafetensors,
  loadSafetensorsSync,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  saveSafetensors,
  saveSafetensorsSync,
} from '../lib/io/index.js';
import { littleEndianToHostOrder } from '../lib/io/byte_order.js';
import { bfloat16BitsToFloat32, float32ToBfloat16Bits, float32ToHalfBits, halfBitsToFloat32, halfBitsToNumber } from '../lib/io/half_precision.js';
import { findDuplicateKey } from '../lib/io/json_duplicate_keys.js';
import { concatBytes, f32le, safetensorsBytes, scratchDirectory, seededRandom, u64le } from './helpers/safetensors_files.js';

const scratch = scratchDirectory('safetensors-');
afterAll(() => scratch.cleanup());

function sameBits(a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) expect.fail(`element ${i}: ${String(a[i])} !== ${String(b[i])}`);
  }
}

function everyDtypeTensors(): Record<string, rn.Tensor> {
  const specials = [0, -0, 1, -2.5, 65504, -65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, NaN, 1e-3];
  return {
    f32: rn.tensor(new Float32Array([1.5, -0, 3.4028234663852886e38, 1.401298464324817e-45, Infinity, NaN]), [2, 3]),
    f16: rn.tensor(Float32Array.from(specials), [3, 4], { dtype: 'float16' }),
    bf16: rn.tensor(Float32Array.from([...specials, 3e38, -1e-38]), [2, 7], { dtype: 'bfloat16' }),
    i32: rn.tensor(new Int32Array([2147483647, -2147483648, 0, 7]), [4], { dtype: 'int32' }),
    i64: rn.tensor(new BigInt64Array([9223372036854775807n, -9223372036854775808n, 1n]), [3, 1], { dtype: 'int64' }),
    u8: rn.tensor(new Uint8Array([0, 1, 127, 255]), [2, 2], { dtype: 'uint8' }),
    scalar: rn.tensor(new Float32Array([42]), [], { dtype: 'float32' }),
    empty: rn.tensor(new Float32Array(0), [0], { dtype: 'float16' }),
    emptyInts: rn.tensor(new BigInt64Array(0), [3, 0, 2], { dtype: 'int64' }),
  };
}

function expectSameTensors(loaded: Map<string, rn.Tensor>, saved: Record<string, rn.Tensor>): void {
  expect([...loaded.keys()].sort()).toEqual(Object.keys(saved).sort());
  for (const [name, original] of Object.entries(saved)) {
    const t = loaded.get(name)!;
    expect(t.dtype, name).toBe(original.dtype);
    expect(t.shape, name).toEqual(original.shape);
    sameBits(t.toArray(), original.toArray());
  }
}

describe('safetensors round trip', () => {
  it('keeps every dtype, scalar and empty shapes, and the metadata (sync)', () => {
    const saved = everyDtypeTensors();
    const file = scratch.path('every-dtype.safetensors');
    saveSafetensorsSync(file, saved, { format: 'pt', note: 'ünïcode ✓ \u{1F600}', '0': 'integer-like key' });
    const { tensors, metadata } = loadSafetensorsSync(file);
    expectSameTensors(tensors, saved);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode ✓ \u{1F600}', '0': 'integer-like key' });
    for (const t of [...tensors.values(), ...Object.values(saved)]) t.dispose();
  });

  it('keeps every dtype through the asynchronous functions and a Map', async () => {
    const saved = everyDtypeTensors();
    const file = scratch.path('every-dtype-async.safetensors');
    await saveSafetensors(file, new Map(Object.entries(saved)));
    const { tensors, metadata } = await loadSafetensors(file);
    expectSameTensors(tensors, saved);
    expect(metadata).toEqual({});
    for (const t of [...tensors.values(), ...Object.values(saved)]) t.dispose();
  });

  it('writes channelsLast tensors in logical row-major order', () => {
    const values = Float32Array.from({ length: 24 }, (_, i) => i);
    const nchw = rn.tensor(values, [1, 2, 3, 4]);
    const nhwc = nchw.to({ memoryFormat: 'channelsLast' });
    const file = scratch.path('channels-last.safetensors');
    saveSafetensorsSync(file, { x: nhwc });
    const { tensors } = loadSafetensorsSync(file);
    expect(tensors.get('x')!.memoryFormat).toBe('contiguous');
    sameBits(tensors.get('x')!.toArray(), values);
    for (const t of [nchw, nhwc, ...tensors.values()]) t.dispose();
  });

  it('returns the tensors in file order, which is name order (by UTF-8 bytes) for files it wrote', () => {
    const names = ['b', 'a', '10', '9', 'é', '\u{1F600}', '\uFFFD', ''];
    const file = scratch.path('order.safetensors');
    const saved = Object.fromEntries(names.map((n) => [n, rn.ones([1])]));
    saveSafetensorsSync(file, saved);
    const byUtf8 = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(byUtf8).toEqual(['', '10', '9', 'a', 'b', 'é', '\uFFFD', '\u{1F600}']);
    const { tensors } = loadSafetensorsSync(file);
    expect([...tensors.keys()]).toEqual(byUtf8);
    expect(readSafetensorsHeaderSync(file).tensors.map((t) => t.name)).toEqual(byUtf8);
    for (const t of [...tensors.values(), ...Object.values(saved)]) t.dispose();
  });
});

describe('safetensors writer output', () => {
  it('matches a hand-computed layout byte for byte', () => {
    const a = rn.tensor(new Float32Array([1.5]), [], { dtype: 'float32' });
    const b = rn.tensor(new Int32Array([1, -2]), [2], { dtype: 'int32' });
    const c = rn.tensor(new Float32Array([1, -2]), [2, 1], { dtype: 'float16' });
    const file = scratch.path('exact.safetensors');
    saveSafetensorsSync(file, { c, b, a }, { k: 'v' });
    // 189 bytes of JSON, padded with 3 spaces to N = 192 so that the data starts at byte 200.
    const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},'
      + '"b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]},"c":{"dtype":"F16","shape":[2,1],"data_offsets":[12,16]}}';
    expect(json.length).toBe(189);
    const expected = concatBytes(
      Uint8Array.from([0xc0, 0, 0, 0, 0, 0, 0, 0]),
      new TextEncoder().encode(`${json}   `),
      Uint8Array.from([0x00, 0x00, 0xc0, 0x3f]), // 1.5f
      Uint8Array.from([0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff]), // 1, -2
      Uint8Array.from([0x00, 0x3c, 0x00, 0xc0]), // half 1.0 = 0x3c00, half -2.0 = 0xc000
    );
    expect(expected.length).toBe(216);
    expect(new Uint8Array(readFileSync(file))).toEqual(expected);
    for (const t of [a, b, c]) t.dispose();
  });

  it('writes an empty file as the header {} padded to 8 bytes', () => {
    const file = scratch.path('nothing.safetensors');
    saveSafetensorsSync(file, {});
    expect(new Uint8Array(readFileSync(file))).toEqual(concatBytes(u64le(8n), new TextEncoder().encode('{}      ')));
    const { tensors, metadata } = loadSafetensorsSync(file);
    expect(tensors.size).toBe(0);
    expect(metadata).toEqual({});
  });
});

describe('safetensors files built by hand', () => {
  it('reads every dtype, including F64, I8, I16, U16 and BOOL, from an unpadded header in any entry order', () => {
    const header = {
      flag: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] },
      small: { dtype: 'I8', shape: [2], data_offsets: [3, 5] },
      short: { dtype: 'I16', shape: [2], data_offsets: [5, 9] },
      ushort: { dtype: 'U16', shape: [1], data_offsets: [9, 11] },
      half: { dtype: 'F16', shape: [5], data_offsets: [11, 21] },
      brain: { dtype: 'BF16', shape: [2], data_offsets: [21, 25] },
      double: { dtype: 'F64', shape: [3], data_offsets: [25, 49] },
      long: { dtype: 'I64', shape: [1], data_offsets: [49, 57] },
      float: { dtype: 'F32', shape: [1, 1], data_offsets: [57, 61] },
      byte: { dtype: 'U8', shape: [], data_offsets: [61, 62] },
      int: { dtype: 'I32', shape: [0, 5], data_offsets: [62, 62] },
      __metadata__: { source: 'hand-built' },
    };
    const f64 = new Uint8Array(Float64Array.from([0.1, 1e300, -(2 ** -1074)]).buffer);
    const data = [
      1, 0, 1, // BOOL
      0xff, 0x7f, // I8: -1, 127
      0x00, 0x80, 0xff, 0x7f, // I16: -32768, 32767
      0xff, 0xff, // U16: 65535
      0x00, 0x3c, 0xff, 0x7b, 0x01, 0x00, 0x00, 0xfc, 0x00, 0x7e, // F16: 1, 65504, 2^-24, -inf, NaN
      0x49, 0x40, 0x80, 0xbf, // BF16: 0x4049 = 3.140625, 0xbf80 = -1
      ...f64,
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64: -2
      ...f32le(0.5),
      200, // U8
    ];
    const file = scratch.write('hand-built.safetensors', safetensorsBytes(header, data));
    const { tensors, metadata } = loadSafetensorsSync(file);
    const got = (name: string) => tensors.get(name)!;
    expect(metadata).toEqual({ source: 'hand-built' });
    expect([...tensors.keys()]).toEqual(['flag', 'small', 'short', 'ushort', 'half', 'brain', 'double', 'long', 'float', 'byte', 'int']);
    expect(got('flag').dtype).toBe('uint8');
    expect([...got('flag').toArray()]).toEqual([1, 0, 1]);
    for (const name of ['small', 'short', 'ushort', 'int']) expect(got(name).dtype).toBe('int32');
    expect([...got('small').toArray()]).toEqual([-1, 127]);
    expect([...got('short').toArray()]).toEqual([-32768, 32767]);
    expect([...got('ushort').toArray()]).toEqual([65535]);
    expect(got('half').dtype).toBe('float16');
    sameBits(got('half').toArray(), [1, 65504, 2 ** -24, -Infinity, NaN]);
    expect(got('brain').dtype).toBe('bfloat16');
    sameBits(got('brain').toArray(), [3.140625, -1]);
    expect(got('double').dtype).toBe('float32');
    sameBits(got('double').toArray(), [Math.fround(0.1), Infinity, -0]);
    expect(got('long').toArray()).toEqual(new BigInt64Array([-2n]));
    expect(got('float').shape).toEqual([1, 1]);
    sameBits(got('float').toArray(), [0.5]);
    expect(got('byte').shape).toEqual([]);
    expect(got('byte').toArray()).toEqual(new Uint8Array([200]));
    expect(got('int').shape).toEqual([0, 5]);
    for (const t of tensors.values()) t.dispose();
  });

  it('accepts several empty tensors at one offset, the names "__proto__" and "constructor", and metadata key "__proto__"', () => {
    const header = '{"__metadata__":{"__proto__":"p"},"__proto__":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},'
      + '"constructor":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"z":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}}';
    const file = scratch.write('odd-names.safetensors', safetensorsBytes(header, f32le(7)));
    const { tensors, metadata } = loadSafetensorsSync(file);
    expect([...tensors.keys()]).toEqual(['constructor', '__proto__', 'z']);
    expect(Object.getOwnPropertyNames(metadata)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    for (const t of tensors.values()) t.dispose();
  });
});

describe('readSafetensorsHeader', () => {
  it('gives names, dtypes, shapes, offsets and metadata without reading the data', async () => {
    const file = scratch.path('header.safetensors');
    const w = rn.zeros([3, 2], { dtype: 'bfloat16' });
    const b = rn.zeros([5], { dtype: 'int64' });
    saveSafetensorsSync(file, { w, b }, { epoch: '3' });
    const header = readSafetensorsHeaderSync(file);
    expect(header).toEqual({
      file,
      headerBytes: 144, // 142 bytes of JSON and 2 spaces
      dataStart: 152,
      dataBytes: 52,
      tensors: [
        { name: 'b', dtype: 'I64', shape: [5], dataOffsets: [0, 40] },
        { name: 'w', dtype: 'BF16', shape: [3, 2], dataOffsets: [40, 52] },
      ],
      metadata: { epoch: '3' },
    });
    expect(await readSafetensorsHeader(file)).toEqual(header);
    const before = rn.memory().liveTensors;
    readSafetensorsHeaderSync(file);
    expect(rn.memory().liveTensors).toBe(before);
    w.dispose();
    b.dispose();
  });
});

describe('16-bit float conversions', () => {
  const allBits = Uint16Array.from({ length: 65536 }, (_, i) => i);

  it('decode every half exactly and encode each back to the same bits (NaN stays NaN)', () => {
    const values = halfBitsToFloat32(allBits);
    const back = float32ToHalfBits(values);
    for (let bits = 0; bits < 65536; bits++) {
      const isNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      if (isNaN) expect(Number.isNaN(values[bits]!)).toBe(true);
      else if (back[bits] !== bits) expect.fail(`half 0x${bits.toString(16)} came back as 0x${back[bits]!.toString(16)}`);
    }
    expect(halfBitsToNumber(0x0001)).toBe(2 ** -24);
    expect(halfBitsToNumber(0x03ff)).toBe(1023 * 2 ** -24);
    expect(halfBitsToNumber(0x0400)).toBe(2 ** -14);
    expect(halfBitsToNumber(0x7bff)).toBe(65504);
    expect(halfBitsToNumber(0x7c00)).toBe(Infinity);
    expect(Object.is(halfBitsToNumber(0x8000), -0)).toBe(true);
    expect(halfBitsToNumber(0x3555)).toBe(0.333251953125);
  });

  it('decode every bfloat16 exactly and encode each back to the same bits (NaN stays NaN)', () => {
    const values = bfloat16BitsToFloat32(allBits);
    const back = float32ToBfloat16Bits(values);
    for (let bits = 0; bits < 65536; bits++) {
      const isNaN = (bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0;
      if (isNaN) expect(Number.isNaN(values[bits]!)).toBe(true);
      else if (back[bits] !== bits) expect.fail(`bfloat16 0x${bits.toString(16)} came back as 0x${back[bits]!.toString(16)}`);
    }
  });

  it('round to nearest, ties to even', () => {
    const half = (x: number) => float32ToHalfBits(Float32Array.of(x))[0];
    expect(half(1 + 2 ** -11)).toBe(0x3c00); // tie, down to even
    expect(half(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, up to even
    expect(half(65519)).toBe(0x7bff);
    expect(half(65520)).toBe(0x7c00); // overflow rounds to infinity
    expect(half(2 ** -25)).toBe(0x0000); // half the smallest subnormal: tie to zero
    expect(half(3 * 2 ** -25)).toBe(0x0002);
    expect(half(-(2 ** -26))).toBe(0x8000);
    expect(half(2 ** -14 - 2 ** -25)).toBe(0x0400); // the largest subnormal rounds up into the normals
    const bf16 = (x: number) => float32ToBfloat16Bits(Float32Array.of(x))[0];
    expect(bf16(1 + 2 ** -8)).toBe(0x3f80);
    expect(bf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bf16(3.4028234663852886e38)).toBe(0x7f80);
    expect(bf16(-Infinity)).toBe(0xff80);
  });

  it('agree with the native float16 and bfloat16 storage on random float32 values', () => {
    const random = seededRandom(7);
    const values = Float32Array.from({ length: 20000 }, (_, i) => {
      const magnitude = 2 ** Math.floor(random() * 60 - 40);
      return (random() - 0.5) * magnitude * (i % 97 === 0 ? 1e6 : 1);
    });
    for (const [dtype, encode, decode] of [
      ['float16', float32ToHalfBits, halfBitsToFloat32],
      ['bfloat16', float32ToBfloat16Bits, bfloat16BitsToFloat32],
    ] as const) {
      const t = rn.tensor(values, [values.length], { dtype });
      sameBits(decode(encode(values)), t.toArray());
      t.dispose();
    }
  });
});

describe('byte order', () => {
  it('is unchanged on a little-endian host and reversed per element on a big-endian one', () => {
    const bytes = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(littleEndianToHostOrder(bytes, 4, true)).toBe(bytes);
    expect([...littleEndianToHostOrder(bytes, 4, false)]).toEqual([4, 3, 2, 1, 8, 7, 6, 5]);
    expect([...littleEndianToHostOrder(bytes, 2, false)]).toEqual([2, 1, 4, 3, 6, 5, 8, 7]);
    expect([...littleEndianToHostOrder(bytes, 8, false)]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(littleEndianToHostOrder(bytes, 1, false)).toBe(bytes);
  });
});

describe('duplicate JSON keys', () => {
  it('finds a key repeated in one object, comparing decoded keys, and ignores strings that are values', () => {
    expect(findDuplicateKey('{"a":1,"b":2}')).toBeUndefined();
    expect(findDuplicateKey('{"a":{"x":1},"b":{"x":1}}')).toBeUndefined();
    expect(findDuplicateKey('{"a":"a","b":["a","a"],"c":[{"a":1},{"a":2}]}')).toBeUndefined();
    expect(findDuplicateKey('{"a":1,"a":2}')).toEqual({ key: 'a', path: [] });
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')).toEqual({ key: 'a', path: [] });
    expect(findDuplicateKey('{"q\\"{,":1, "w":{"s":"}\\\\","s":3}}')).toEqual({ key: 's', path: ['w'] });
    expect(findDuplicateKey('{"t":[{"k":1,"k":2}]}')).toEqual({ key: 'k', path: ['t', '[]'] });
  });
});

describe('atomic saves', () => {
  function failingTensor(): rn.Tensor {
    const t = rn.ones([4]);
    const fail = () => {
      throw new Error('simulated failure while writing');
    };
    Object.assign(t, { toArray: fail, data: fail });
    return t;
  }

  function expectOnlyOriginal(dir: string, name: string, original: Uint8Array): void {
    expect(readdirSync(dir)).toEqual([name]);
    expect(new Uint8Array(readFileSync(`${dir}/${name}`))).toEqual(original);
  }

  it('leave the previous file intact and no temporary file when writing fails midway', async () => {
    const place = scratchDirectory('safetensors-atomic-');
    const file = place.path('model.safetensors');
    const good = rn.ones([3]);
    saveSafetensorsSync(file, { good });
    const original = new Uint8Array(readFileSync(file));
    const bad = failingTensor();
    expect(() => saveSafetensorsSync(file, { good, zz: bad })).toThrow('simulated failure while writing');
    expectOnlyOriginal(place.dir, 'model.safetensors', original);
    await expect(saveSafetensors(file, { good, zz: bad })).rejects.toThrow('simulated failure while writing');
    expectOnlyOriginal(place.dir, 'model.safetensors', original);
    good.dispose();
    bad.dispose();
    place.cleanup();
  });

  it('leave no temporary file when a tensor is disposed during an asynchronous save', async () => {
    const place = scratchDirectory('safetensors-atomic-');
    const file = place.path('model.safetensors');
    writeFileSync(file, 'previous contents');
    const a = rn.ones([3]);
    const b = rn.ones([3]);
    const saving = saveSafetensors(file, { a, b });
    b.dispose();
    await expect(saving).rejects.toThrow(/disposed/);
    expect(readdirSync(place.dir)).toEqual(['model.safetensors']);
    expect(readFileSync(file, 'utf8')).toBe('previous contents');
    a.dispose();
    place.cleanup();
  });

  it('leave no temporary file when the final rename fails', async () => {
    const place = scratchDirectory('safetensors-atomic-');
    const target = place.path('occupied');
    mkdirSync(`${target}/inside`, { recursive: true });
    const t = rn.ones([2]);
    expect(() => saveSafetensorsSync(target, { t })).toThrow();
    await expect(saveSafetensors(target, { t })).rejects.toThrow();
    expect(readdirSync(place.dir)).toEqual(['occupied']);
    expect(readdirSync(target)).toEqual(['inside']);
    t.dispose();
    place.cleanup();
  });

  it('replace an existing file and leave nothing else behind', async () => {
    const place = scratchDirectory('safetensors-atomic-');
    const file = place.path('model.safetensors');
    writeFileSync(file, 'old');
    const t = rn.full([2], 3);
    await saveSafetensors(file, { t });
    expect(readdirSync(place.dir)).toEqual(['model.safetensors']);
    const { tensors } = loadSafetensorsSync(file);
    expect([...tensors.get('t')!.toArray()]).toEqual([3, 3]);
    for (const x of [t, ...tensors.values()]) x.dispose();
    place.cleanup();
  });
});

describe('save arguments', () => {
  it('are each rejected with a sentence, before any file is created', () => {
    const file = scratch.path('never-written.safetensors');
    const t = rn.ones([1]);
    const disposed = rn.ones([1]);
    disposed.dispose();
    const bad: [unknown, unknown, unknown, RegExp][] = [
      ['', { t }, undefined, /path must be a non-empty string/],
      [42, { t }, undefined, /path must be a non-empty string, got number/],
      [file, [t], undefined, /tensors must be a Record<string, Tensor> or a Map<string, Tensor>, got an array/],
      [file, null, undefined, /got null/],
      [file, t, undefined, /tensors must be a Record/],
      [file, { x: 3 }, undefined, /tensor "x" must be a Tensor, got number/],
      [file, new Map([[1, t]]), undefined, /tensor names must be strings, got number/],
      [file, { x: disposed }, undefined, /tensor "x" \(shape \[1\]\) was disposed/],
      [file, { __metadata__: t }, undefined, /__metadata__ is reserved/],
      [file, { ['a\uD800']: t }, undefined, /lone UTF-16 surrogate/],
      [file, { t }, 'format', /metadata must be a Record<string, string>, got string/],
      [file, { t }, new Map(), /got a Map/],
      [file, { t }, { epoch: 3 }, /metadata value of key "epoch" must be a string, got number/],
      [file, { t }, { note: '\uDC00' }, /lone UTF-16 surrogate/],
    ];
    for (const [path, tensors, metadata, message] of bad) {
      expect(() => saveSafetensorsSync(path as string, tensors as Record<string, rn.Tensor>, metadata as Record<string, string>)).toThrow(message);
    }
    expect(() => saveSafetensorsSync(file, { t }, { epoch: 3 } as unknown as Record<string, string>)).toThrow(TypeError);
    expect(existsSync(file)).toBe(false);
    t.dispose();
  });

  it('of the loaders are checked too', async () => {
    expect(() => loadSafetensorsSync('')).toThrow(/loadSafetensorsSync: path must be a non-empty string/);
    await expect(loadSafetensors(undefined as unknown as string)).rejects.toThrow(/loadSafetensors: path must be a non-empty string, got undefined/);
    expect(() => readSafetensorsHeaderSync(scratch.path('missing.safetensors'))).toThrow(/ENOENT/);
  });
});
