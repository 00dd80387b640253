// Safetensors data is little-endian. Typed arrays use the host's byte order, so on a
// little-endian host the file's bytes can be viewed as they are; on a big-endian host each
// element's bytes are reversed first (the same swap converts in both directions).

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * `bytes`, holding elements of `itemSize` bytes, converted between little-endian and host
 * order: the same bytes on a little-endian host, a reversed copy on a big-endian one.
 */
export function littleEndianToHostOrder(bytes: Uint8Array, itemSize: number, hostIsLittleEndian = HOST_IS_LITTLE_ENDIAN): Uint8Array {
  if (hostIsLittleEndian || itemSize === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let start = 0; start < bytes.length; start += itemSize) {
    for (let j = 0; j < itemSize; j++) out[start + j] = bytes[start + itemSize - 1 - j]!;
  }
  return out;
}

type TypedArrayClass<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** The little-endian elements in `bytes` as a typed array in host order (copied when they are not aligned for it). */
export function viewLittleEndian<T>(Type: TypedArrayClass<T>, bytes: Uint8Array): T {
  const size = Type.BYTES_PER_ELEMENT;
  let host = littleEndianToHostOrder(bytes, size);
  if (host.byteOffset % size !== 0) host = host.slice();
  return new Type(host.buffer, host.byteOffset, host.length / size);
}

/** The elements of a typed array as little-endian bytes (a view of it on a little-endian host). */
export function littleEndianBytes(values: ArrayBufferView & { BYTES_PER_ELEMENT: number }): Uint8Array {
  return littleEndianToHostOrder(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), values.BYTES_PER_ELEMENT);
}
