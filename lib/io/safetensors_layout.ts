// What a saved safetensors file holds: the checked arguments of a save, laid out as the
// header bytes (length prefix, JSON, space padding to an 8-byte boundary) and the tensors in
// name order, contiguous.
import type { TransportArray } from '../binding.js';
import { Tensor } from '../tensor.js';
import { WRITE_CODECS } from './safetensors_dtypes.js';
import { quoteForMessage } from './safetensors_error.js';
import { LENGTH_PREFIX_BYTES, MAX_HEADER_BYTES, METADATA_KEY } from './safetensors_header.js';

export interface PlannedTensor {
  readonly tensor: Tensor;
  /** The tensor's little-endian bytes, from the values toArray() or data() gave. */
  encode(values: TransportArray): Uint8Array;
}

export interface SafetensorsLayout {
  /** Length prefix, JSON and padding: everything before the data. */
  readonly header: Uint8Array;
  /** The tensors in the order of their data. */
  readonly tensors: readonly PlannedTensor[];
}

const LONE_SURROGATE = /\p{Surrogate}/u;
const ALIGNMENT = 8;
const SPACE = 0x20;

function checkText(op: string, what: string, text: string): void {
  if (LONE_SURROGATE.test(text)) throw new TypeError(`${op}: ${what} ${quoteForMessage(text)} holds a lone UTF-16 surrogate, which UTF-8 cannot encode`);
}

function byUtf8(a: [string, unknown], b: [string, unknown]): number {
  return Buffer.compare(Buffer.from(a[0], 'utf8'), Buffer.from(b[0], 'utf8'));
}

function tensorEntries(op: string, tensors: unknown): [string, Tensor][] {
  let entries: [unknown, unknown][];
  if (tensors instanceof Map) entries = [...tensors.entries()];
  else if (tensors !== null && typeof tensors === 'object' && !Array.isArray(tensors) && !(tensors instanceof Tensor)) entries = Object.entries(tensors);
  else throw new TypeError(`${op}: tensors must be a Record<string, Tensor> or a Map<string, Tensor>, got ${Array.isArray(tensors) ? 'an array' : tensors === null ? 'null' : typeof tensors}`);
  return entries.map(([name, t]) => {
    if (typeof name !== 'string') throw new TypeError(`${op}: tensor names must be strings, got ${typeof name}`);
    if (name === METADATA_KEY) throw new TypeError(`${op}: ${METADATA_KEY} is reserved for the metadata and cannot name a tensor`);
    checkText(op, 'the tensor name', name);
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: tensor ${quoteForMessage(name)} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    if (t.disposed) throw new TypeError(`${op}: tensor ${quoteForMessage(name)} (shape [${t.shape}]) was disposed`);
    if (t.device !== 'cpu') throw new TypeError(`${op}: tensor ${quoteForMessage(name)} is on ${t.device}; move it to the CPU first`);
    return [name, t];
  });
}

function metadataEntries(op: string, metadata: unknown): [string, string][] {
  if (metadata === undefined) return [];
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata) || metadata instanceof Map) {
    throw new TypeError(`${op}: metadata must be a Record<string, string>, got ${metadata === null ? 'null' : Array.isArray(metadata) ? 'an array' : metadata instanceof Map ? 'a Map' : typeof metadata}`);
  }
  return Object.entries(metadata).map(([key, value]) => {
    checkText(op, 'the metadata key', key);
    if (typeof value !== 'string') throw new TypeError(`${op}: metadata value of key ${quoteForMessage(key)} must be a string, got ${typeof value}`);
    checkText(op, 'the metadata value', value);
    return [key, value];
  });
}

function headerBytes(op: string, json: string): Uint8Array {
  const text = new TextEncoder().encode(json);
  const padded = Math.ceil(text.length / ALIGNMENT) * ALIGNMENT;
  if (padded > MAX_HEADER_BYTES) throw new RangeError(`${op}: the header would take ${padded} bytes, more than the format's limit of ${MAX_HEADER_BYTES}`);
  const header = new Uint8Array(LENGTH_PREFIX_BYTES + padded).fill(SPACE);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, LENGTH_PREFIX_BYTES);
  return header;
}

/** Checks the arguments of a save and lays the file out. */
export function planSafetensorsFile(op: string, tensors: unknown, metadata: unknown): SafetensorsLayout {
  const named = tensorEntries(op, tensors).sort(byUtf8);
  const meta = metadataEntries(op, metadata).sort(byUtf8);
  const fields: string[] = [];
  if (meta.length > 0) fields.push(`"${METADATA_KEY}":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const [name, t] of named) {
    const codec = WRITE_CODECS.get(t.dtype)!;
    const byteLength = t.numel * codec.itemSize;
    fields.push(`${JSON.stringify(name)}:{"dtype":"${codec.name}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + byteLength}]}`);
    planned.push({
      tensor: t,
      encode: (values) => {
        if (values.length !== t.numel) throw new RangeError(`${op}: tensor ${quoteForMessage(name)} gave ${values.length} values for ${t.numel} elements`);
        return codec.encode(values);
      },
    });
    offset += byteLength;
  }
  return { header: headerBytes(op, `{${fields.join(',')}}`), tensors: planned };
}
