// The safetensors dtypes this project reads and writes, and how their little-endian bytes turn
// into the typed arrays that the project's tensor() takes (and back).
import type { DType, TransportArray } from '../binding.js';
import { littleEndianBytes, viewLittleEndian } from './byte_order.js';
import { bfloat16BitsToFloat32, float32ToBfloat16Bits, float32ToHalfBits, halfBitsToFloat32 } from './half_precision.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U16' | 'U8' | 'BOOL';

interface ReadCodec {
  /** Bytes per element in the file. */
  readonly itemSize: number;
  /** The project dtype the tensor gets on load. */
  readonly loadsAs: DType;
  /** The values stored little-endian in `bytes`. Throws a RangeError on a value the dtype does not allow. */
  decode(bytes: Uint8Array): TransportArray;
}

function boolValues(bytes: Uint8Array): Uint8Array {
  const bad = bytes.findIndex((v) => v > 1);
  if (bad >= 0) throw new RangeError(`BOOL element ${bad} holds the byte ${bytes[bad]}, but a BOOL byte must be 0 or 1`);
  return bytes;
}

export const READ_CODECS: ReadonlyMap<string, ReadCodec> = new Map<SafetensorsDType, ReadCodec>([
  ['F64', { itemSize: 8, loadsAs: 'float32', decode: (b) => new Float32Array(viewLittleEndian(Float64Array, b)) }],
  ['F32', { itemSize: 4, loadsAs: 'float32', decode: (b) => viewLittleEndian(Float32Array, b) }],
  ['F16', { itemSize: 2, loadsAs: 'float16', decode: (b) => halfBitsToFloat32(viewLittleEndian(Uint16Array, b)) }],
  ['BF16', { itemSize: 2, loadsAs: 'bfloat16', decode: (b) => bfloat16BitsToFloat32(viewLittleEndian(Uint16Array, b)) }],
  ['I64', { itemSize: 8, loadsAs: 'int64', decode: (b) => viewLittleEndian(BigInt64Array, b) }],
  ['I32', { itemSize: 4, loadsAs: 'int32', decode: (b) => viewLittleEndian(Int32Array, b) }],
  ['I16', { itemSize: 2, loadsAs: 'int32', decode: (b) => new Int32Array(viewLittleEndian(Int16Array, b)) }],
  ['I8', { itemSize: 1, loadsAs: 'int32', decode: (b) => new Int32Array(viewLittleEndian(Int8Array, b)) }],
  ['U16', { itemSize: 2, loadsAs: 'int32', decode: (b) => new Int32Array(viewLittleEndian(Uint16Array, b)) }],
  ['U8', { itemSize: 1, loadsAs: 'uint8', decode: (b) => b }],
  ['BOOL', { itemSize: 1, loadsAs: 'uint8', decode: boolValues }],
]);

export const READABLE_DTYPE_NAMES: readonly string[] = [...READ_CODECS.keys()];

interface WriteCodec {
  readonly name: SafetensorsDType;
  readonly itemSize: number;
  /** The little-endian bytes of the values that toArray() gives for this dtype. */
  encode(values: TransportArray): Uint8Array;
}

export const WRITE_CODECS: ReadonlyMap<DType, WriteCodec> = new Map<DType, WriteCodec>([
  ['float32', { name: 'F32', itemSize: 4, encode: (v) => littleEndianBytes(v) }],
  ['float16', { name: 'F16', itemSize: 2, encode: (v) => littleEndianBytes(float32ToHalfBits(v as Float32Array)) }],
  ['bfloat16', { name: 'BF16', itemSize: 2, encode: (v) => littleEndianBytes(float32ToBfloat16Bits(v as Float32Array)) }],
  ['int32', { name: 'I32', itemSize: 4, encode: (v) => littleEndianBytes(v) }],
  ['int64', { name: 'I64', itemSize: 8, encode: (v) => littleEndianBytes(v) }],
  ['uint8', { name: 'U8', itemSize: 1, encode: (v) => littleEndianBytes(v) }],
]);
