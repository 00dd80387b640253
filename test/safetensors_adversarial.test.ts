// The safetensors reader trusts nothing: every malformed file ends in a SafetensorsError naming
// the file (and the tensor), nothing stays allocated after a failure, and hundreds of seeded
// random corruptions and truncations never crash, hang or throw anything else.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { memory } from '../lib/memory.js';
import { tensor } from '../lib/creation.js';
import {
  loadSafetensors,
  loadSafetensorsSync,
  readSafetensorsHeaderSync,
  SafetensorsError,
  saveSafetensorsSync,
  type SafetensorsHeader,
} from '../lib/io/index.js';
import { concatBytes, f32le, safetensorsBytes, scratchDirectory, seededRandom, u64le } from './helpers/safetensors_files.js';

const scratch = scratchDirectory('safetensors-adversarial-');
afterAll(() => scratch.cleanup());

const W = { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] };
const B = { dtype: 'F32', shape: [2], data_offsets: [16, 24] };
const DATA = f32le(1, 2, 3, 4, 5, 6);
const withHeader = (header: object, data: number[] = DATA) => safetensorsBytes(header, data);

interface BadFile {
  what: string;
  bytes: Uint8Array;
  /** The tensor the error must name; undefined when it concerns the whole file. */
  tensor?: string;
  message: RegExp;
  /** The header is valid; only loading the data fails. */
  headerIsValid?: boolean;
}

const BAD_FILES: BadFile[] = [
  { what: 'an empty file', bytes: new Uint8Array(0), message: /has 0 bytes, fewer than the 8-byte header length/ },
  { what: 'a 7-byte file', bytes: new Uint8Array(7), message: /has 7 bytes, fewer than the 8-byte/ },
  { what: 'a header length beyond the file', bytes: safetensorsBytes('{}', [], 3n), message: /header length 3 reaches beyond the end of the file \(10 bytes\)/ },
  { what: 'a header over 100 MB', bytes: safetensorsBytes('{}', [], 100_000_001n), message: /header length 100000001 is larger than the format's limit of 100000000 bytes/ },
  { what: 'a header length of 2^64 - 1', bytes: safetensorsBytes('{}', [], 2n ** 64n - 1n), message: /header length 18446744073709551615 is larger than the format's limit/ },
  { what: 'a zero header length', bytes: safetensorsBytes('', DATA), message: /not valid JSON/ },
  { what: 'invalid UTF-8', bytes: concatBytes(u64le(4n), Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])), message: /header is not valid UTF-8/ },
  { what: 'an overlong UTF-8 encoding', bytes: concatBytes(u64le(5n), Uint8Array.from([0x7b, 0x22, 0xc0, 0xa2, 0x7d])), message: /not valid UTF-8/ },
  { what: 'invalid JSON', bytes: safetensorsBytes('{"w": {"dtype": "F32",', DATA), message: /header is not valid JSON/ },
  { what: 'trailing garbage after the JSON', bytes: safetensorsBytes('{} x', []), message: /not valid JSON/ },
  { what: 'a JSON array', bytes: safetensorsBytes('[]', []), message: /header must be a JSON object, got an array/ },
  { what: 'JSON null', bytes: safetensorsBytes('null', []), message: /header must be a JSON object, got null/ },
  { what: 'a JSON number', bytes: safetensorsBytes('12', []), message: /header must be a JSON object, got number/ },
  { what: 'a JSON string', bytes: safetensorsBytes('"{}"', []), message: /header must be a JSON object, got string/ },
  { what: 'an entry that is not an object', bytes: withHeader({ w: [1, 2], b: B }, DATA), tensor: 'w', message: /entry must be an object with dtype, shape and data_offsets, got an array/ },
  { what: 'an entry that is null', bytes: withHeader({ w: null }, []), tensor: 'w', message: /got null/ },
  { what: 'a missing dtype', bytes: withHeader({ w: { shape: [2, 2], data_offsets: [0, 16] }, b: B }), tensor: 'w', message: /entry has no dtype/ },
  { what: 'a missing shape', bytes: withHeader({ w: W, b: { dtype: 'F32', data_offsets: [16, 24] } }), tensor: 'b', message: /entry has no shape/ },
  { what: 'missing data_offsets', bytes: withHeader({ w: W, b: { dtype: 'F32', shape: [2] } }), tensor: 'b', message: /entry has no data_offsets/ },
  { what: 'an unknown field', bytes: withHeader({ w: { ...W, offset: 0 }, b: B }), tensor: 'w', message: /unknown field "offset"/ },
  { what: 'a dtype that is not a string', bytes: withHeader({ w: { ...W, dtype: 4 }, b: B }), tensor: 'w', message: /dtype must be a string, got number 4/ },
  { what: 'an unknown dtype', bytes: withHeader({ w: { ...W, dtype: 'F8_E4M3' }, b: B }), tensor: 'w', message: /unknown or unsupported dtype "F8_E4M3" \(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U16, U8, BOOL\)/ },
  { what: 'a lower-case dtype', bytes: withHeader({ w: { ...W, dtype: 'f32' }, b: B }), tensor: 'w', message: /unknown or unsupported dtype "f32"/ },
  { what: 'a dtype named like an Object method', bytes: withHeader({ w: { ...W, dtype: 'constructor' }, b: B }), tensor: 'w', message: /unknown or unsupported dtype "constructor"/ },
  { what: 'a shape that is not an array', bytes: withHeader({ w: { ...W, shape: 4 }, b: B }), tensor: 'w', message: /shape must be an array of non-negative integers, got number 4/ },
  { what: 'a negative shape entry', bytes: withHeader({ w: { ...W, shape: [-2, -2] }, b: B }), tensor: 'w', message: /shape\[0\] must be a non-negative integer, got number -2/ },
  { what: 'a fractional shape entry', bytes: withHeader({ w: { ...W, shape: [2, 2.5] }, b: B }), tensor: 'w', message: /shape\[1\] must be a non-negative integer, got number 2.5/ },
  { what: 'a string shape entry', bytes: withHeader({ w: { ...W, shape: [2, '2'] }, b: B }), tensor: 'w', message: /shape\[1\] must be a non-negative integer, got the string "2"/ },
  { what: 'a shape entry beyond 2^53', bytes: withHeader({ w: { ...W, shape: [1e300, 0] }, b: B }), tensor: 'w', message: /shape\[0\] must be a non-negative integer, got number 1e\+300/ },
  { what: 'data_offsets that are not a pair', bytes: withHeader({ w: { ...W, data_offsets: [0, 8, 16] }, b: B }), tensor: 'w', message: /data_offsets must be a \[begin, end\] pair of byte offsets, got an array of 3/ },
  { what: 'data_offsets as an object', bytes: withHeader({ w: { ...W, data_offsets: { begin: 0 } }, b: B }), tensor: 'w', message: /data_offsets must be a \[begin, end\] pair of byte offsets, got an object/ },
  { what: 'a negative offset', bytes: withHeader({ w: { ...W, data_offsets: [-16, 0] }, b: B }), tensor: 'w', message: /data_offsets\[0\] \(begin\) must be a non-negative integer, got number -16/ },
  { what: 'a fractional offset', bytes: withHeader({ w: W, b: { ...B, data_offsets: [16, 24.5] } }), tensor: 'b', message: /data_offsets\[1\] \(end\) must be a non-negative integer, got number 24.5/ },
  { what: 'end before begin', bytes: withHeader({ w: W, b: { ...B, data_offsets: [24, 16] } }), tensor: 'b', message: /data_offsets \[24, 16\] end before they begin/ },
  { what: 'offsets beyond the buffer', bytes: withHeader({ w: W, b: { ...B, data_offsets: [16, 32] } }), tensor: 'b', message: /data_offsets \[16, 32\] reach beyond the data buffer, which has 24 bytes/ },
  { what: 'a byte length that does not match the shape', bytes: withHeader({ w: { ...W, shape: [2, 3] }, b: B }), tensor: 'w', message: /shape \[2, 3\] of F32 needs 24 bytes, but data_offsets \[0, 16\] span 16/ },
  { what: 'a byte length that does not match the dtype', bytes: withHeader({ w: { ...W, dtype: 'F16' }, b: B }), tensor: 'w', message: /shape \[2, 2\] of F16 needs 8 bytes, but data_offsets \[0, 16\] span 16/ },
  { what: 'an element count beyond the buffer', bytes: withHeader({ w: { ...W, shape: [2 ** 52, 2 ** 52, 2 ** 52] }, b: B }), tensor: 'w', message: /needs more bytes than the whole data buffer holds/ },
  { what: 'overlapping ranges', bytes: withHeader({ w: W, b: { ...B, data_offsets: [8, 16] } }, DATA.slice(0, 16)), tensor: 'b', message: /data_offsets \[8, 16\] overlap those of tensor "w" \[0, 16\]/ },
  { what: 'an empty tensor inside another', bytes: withHeader({ w: W, b: B, e: { dtype: 'U8', shape: [0], data_offsets: [4, 4] } }), tensor: 'e', message: /data_offsets \[4, 4\] overlap those of tensor "w"/ },
  { what: 'two tensors on the same bytes', bytes: withHeader({ w: W, v: W, b: B }), tensor: 'w', message: /overlap those of tensor "v"/ },
  { what: 'a gap between tensors', bytes: withHeader({ w: W, b: { ...B, data_offsets: [20, 28] } }, [...DATA, 0, 0, 0, 0]), tensor: 'b', message: /leave bytes 16 to 20 of the data buffer to no tensor \(the data must be contiguous\)/ },
  { what: 'a gap at the start', bytes: withHeader({ b: { ...B, data_offsets: [16, 24] } }), tensor: 'b', message: /leave bytes 0 to 16 of the data buffer to no tensor/ },
  { what: 'bytes after the last tensor', bytes: withHeader({ w: W, b: B }, [...DATA, 9]), message: /the tensors cover 24 of the 25 bytes of the data buffer; the rest belongs to no tensor/ },
  { what: 'data but no tensors', bytes: withHeader({}, [1, 2]), message: /the tensors cover 0 of the 2 bytes/ },
  { what: 'a tensor named twice', bytes: safetensorsBytes(`{"w":${JSON.stringify(W)},"b":${JSON.stringify(B)},"w":${JSON.stringify(W)}}`, DATA), tensor: 'w', message: /header names this tensor twice/ },
  { what: 'a tensor named twice with an escape', bytes: safetensorsBytes(`{"w":${JSON.stringify(W)},"b":${JSON.stringify(B)},"\\u0077":${JSON.stringify(W)}}`, DATA), tensor: 'w', message: /names this tensor twice/ },
  { what: 'a field given twice', bytes: safetensorsBytes(`{"w":{"dtype":"F32","dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":${JSON.stringify(B)}}`, DATA), tensor: 'w', message: /its header entry has the key "dtype" twice/ },
  { what: 'two __metadata__ entries', bytes: safetensorsBytes(`{"__metadata__":{},"w":${JSON.stringify(W)},"b":${JSON.stringify(B)},"__metadata__":{}}`, DATA), message: /header has two __metadata__ entries/ },
  { what: 'a metadata key given twice', bytes: safetensorsBytes(`{"__metadata__":{"k":"1","k":"2"},"w":${JSON.stringify(W)},"b":${JSON.stringify(B)}}`, DATA), message: /__metadata__ has the key "k" twice/ },
  { what: 'metadata that is not an object', bytes: withHeader({ __metadata__: 'pt', w: W, b: B }), message: /__metadata__ must be an object of strings, got the string "pt"/ },
  { what: 'null metadata', bytes: withHeader({ __metadata__: null, w: W, b: B }), message: /__metadata__ must be an object of strings, got null/ },
  { what: 'a metadata value that is not a string', bytes: withHeader({ __metadata__: { epoch: 3 }, w: W, b: B }), message: /__metadata__ value of key "epoch" must be a string, got number 3/ },
  { what: 'a nested metadata value', bytes: withHeader({ __metadata__: { nested: { a: 'b' } }, w: W, b: B }), message: /value of key "nested" must be a string, got an object/ },
  {
    what: 'a BOOL byte other than 0 and 1',
    bytes: withHeader({ w: W, b: B, flags: { dtype: 'BOOL', shape: [3], data_offsets: [24, 27] } }, [...DATA, 1, 0, 2]),
    tensor: 'flags',
    message: /its data cannot be loaded: BOOL element 2 holds the byte 2, but a BOOL byte must be 0 or 1/,
    headerIsValid: true,
  },
];

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  return expect.fail('expected an error');
}

async function caughtAsync(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  return expect.fail('expected an error');
}

function expectSafetensorsError(err: unknown, file: string, bad: BadFile): void {
  expect(err, bad.what).toBeInstanceOf(SafetensorsError);
  const e = err as SafetensorsError;
  expect(e.name).toBe('SafetensorsError');
  expect(e.file).toBe(file);
  expect(e.tensor, bad.what).toBe(bad.tensor);
  expect(e.message, bad.what).toMatch(bad.message);
  expect(e.message).toContain(`'${file}'`);
  if (bad.tensor !== undefined) expect(e.message).toContain(`tensor ${JSON.stringify(bad.tensor)}`);
}

describe('malformed safetensors files', () => {
  it.each(BAD_FILES.map((bad, i) => [bad.what, i] as const))('%s → SafetensorsError naming the file and tensor', async (_what, index) => {
    const bad = BAD_FILES[index]!;
    const file = scratch.write(`bad-${index}.safetensors`, bad.bytes);
    const before = memory().liveTensors;
    expectSafetensorsError(caught(() => loadSafetensorsSync(file)), file, bad);
    expectSafetensorsError(await caughtAsync(() => loadSafetensors(file)), file, bad);
    if (bad.headerIsValid) expect(readSafetensorsHeaderSync(file).tensors.length).toBeGreaterThan(0);
    else expectSafetensorsError(caught(() => readSafetensorsHeaderSync(file)), file, bad);
    expect(memory().liveTensors).toBe(before);
  });

  it('a path that is a directory is refused', () => {
    const err = caught(() => loadSafetensorsSync(scratch.dir));
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toMatch(/the path is not a regular file/);
  });
});

describe('nothing half-loaded', () => {
  it('disposes the tensors already created when a later one fails (sync and async)', async () => {
    const header = {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      c: { dtype: 'BOOL', shape: [2], data_offsets: [24, 26] },
    };
    const file = scratch.write('half-loaded.safetensors', withHeader(header, [...DATA.slice(0, 24), 0, 7]));
    const before = memory();
    expect(() => loadSafetensorsSync(file)).toThrow(SafetensorsError);
    expect(memory().liveTensors).toBe(before.liveTensors);
    expect(memory().liveBytes).toBe(before.liveBytes);
    await expect(loadSafetensors(file)).rejects.toThrow(/tensor "c"/);
    expect(memory().liveTensors).toBe(before.liveTensors);
    expect(memory().liveBytes).toBe(before.liveBytes);
  });
});

describe('seeded random corruption', () => {
  const PER_CASE_LIMIT_MS = 2000;

  function validFile(): { file: string; bytes: Uint8Array; header: SafetensorsHeader; values: Map<string, unknown[]> } {
    const made = {
      'conv1.weight': tensor(Float32Array.from({ length: 24 }, (_, i) => i / 7), [2, 3, 2, 2]),
      'bn.running_var': tensor(Float32Array.from([1, 2, 3]), [3], { dtype: 'float16' }),
      'fc.bias': tensor(Float32Array.from([-1.5, 2.25]), [2], { dtype: 'bfloat16' }),
      steps: tensor(new BigInt64Array([123456789012n]), [], { dtype: 'int64' }),
      labels: tensor(new Int32Array([3, -1, 4, 1]), [2, 2], { dtype: 'int32' }),
      mask: tensor(new Uint8Array([1, 0, 255]), [3], { dtype: 'uint8' }),
      empty: tensor(new Float32Array(0), [0, 4]),
    };
    const file = scratch.path('fuzz-base.safetensors');
    saveSafetensorsSync(file, made, { format: 'pt', epoch: '12' });
    const values = new Map(Object.entries(made).map(([name, t]) => [name, [...t.toArray()]]));
    for (const t of Object.values(made)) t.dispose();
    return { file, bytes: new Uint8Array(readFileSync(file)), header: readSafetensorsHeaderSync(file), values };
  }

  const base = validFile();
  const random = seededRandom(20240611);
  const JSON_CHARACTERS = '0123456789{}[]":,.-+eE FIU8BOL_';

  function corrupt(bytes: Uint8Array, positionsBelow: number): Uint8Array {
    const out = bytes.slice();
    const flips = 1 + Math.floor(random() * 3);
    for (let k = 0; k < flips; k++) {
      const position = Math.floor(random() * positionsBelow);
      const roll = random();
      if (roll < 0.4) out[position] = Math.floor(random() * 256);
      else if (roll < 0.7) out[position]! ^= 1 << Math.floor(random() * 8);
      else out[position] = JSON_CHARACTERS.charCodeAt(Math.floor(random() * JSON_CHARACTERS.length));
    }
    return out;
  }

  /** A successful load must agree with the header it read; tensors whose entry is untouched keep their values. */
  function checkLoaded(file: string, tensors: Map<string, ReturnType<typeof tensor>>): void {
    const header = readSafetensorsHeaderSync(file);
    expect([...tensors.keys()]).toEqual(header.tensors.map((t) => t.name));
    for (const info of header.tensors) {
      const t = tensors.get(info.name)!;
      expect(t.shape).toEqual(info.shape);
      const original = base.header.tensors.find((o) => o.name === info.name);
      if (original && JSON.stringify(original) === JSON.stringify(info)) expect([...t.toArray()]).toEqual(base.values.get(info.name));
    }
  }

  function loadOutcome(file: string): 'loaded' | 'rejected' {
    const started = performance.now();
    let outcome: 'loaded' | 'rejected';
    try {
      const { tensors } = loadSafetensorsSync(file);
      try {
        checkLoaded(file, tensors);
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
      outcome = 'loaded';
    } catch (err) {
      if (!(err instanceof SafetensorsError)) throw new Error(`${file}: expected a SafetensorsError, got ${String(err)}`, { cause: err });
      expect(err.file).toBe(file);
      outcome = 'rejected';
    }
    expect(performance.now() - started).toBeLessThan(PER_CASE_LIMIT_MS);
    return outcome;
  }

  it('400 files with random bytes of the header changed each load correctly or fail with a SafetensorsError', async () => {
    const before = memory().liveTensors;
    const headerEnd = base.header.dataStart;
    const outcomes = { loaded: 0, rejected: 0 };
    for (let i = 0; i < 400; i++) {
      const file = scratch.write(`fuzz-${i % 8}.safetensors`, corrupt(base.bytes, headerEnd));
      const outcome = loadOutcome(file);
      outcomes[outcome]++;
      if (i % 25 === 0) {
        const asyncOutcome = await loadSafetensors(file).then(({ tensors }) => {
          for (const t of tensors.values()) t.dispose();
          return 'loaded';
        }, (err: unknown) => (err instanceof SafetensorsError ? 'rejected' : `threw ${String(err)}`));
        expect(asyncOutcome).toBe(outcome);
      }
    }
    expect(outcomes.rejected).toBeGreaterThan(200);
    expect(outcomes.loaded).toBeGreaterThan(0);
    expect(memory().liveTensors).toBe(before);
  });

  it('100 truncations and 20 extensions each fail with a SafetensorsError', () => {
    const before = memory().liveTensors;
    for (let i = 0; i < 100; i++) {
      const length = i < 10 ? i : Math.floor(random() * base.bytes.length);
      const file = scratch.write('truncated.safetensors', base.bytes.subarray(0, length));
      expect(loadOutcome(file), `truncated to ${length} bytes`).toBe('rejected');
    }
    for (let extra = 1; extra <= 20; extra++) {
      const file = scratch.write('extended.safetensors', concatBytes(base.bytes, new Uint8Array(extra)));
      expect(loadOutcome(file), `extended by ${extra} bytes`).toBe('rejected');
    }
    expect(memory().liveTensors).toBe(before);
  });
});
