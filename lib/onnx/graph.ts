// An ONNX graph under construction: named values with their shapes, initializers (the weights),
// and nodes in execution order; encoded by onnx-proto (the ONNX schema compiled for protobufjs).
import { createRequire } from 'node:module';
import type { onnx as OnnxNamespace } from 'onnx-proto';

const require = createRequire(import.meta.url);
export const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNamespace };

/** The opset the exported graphs use (every operator below exists unchanged in it). */
export const OPSET = 13;
/** IR version 7 goes with opset 13. */
export const IR_VERSION = 7;

/** A value in the graph: its name and shape, (N, C, H, W) or (N, F), N the batch size. */
export interface Value {
  name: string;
  shape: number[];
}

/** An attribute: an integer, integers, a string, or a float as { float }. */
export type AttributeValue = number | number[] | string | { float: number };

export class GraphBuilder {
  readonly nodes: OnnxNamespace.INodeProto[] = [];
  readonly initializers: OnnxNamespace.ITensorProto[] = [];
  #names = new Set<string>();

  /** A name not used yet, from a readable stem (the module path of a layer). */
  fresh(stem: string): string {
    const base = stem.replace(/[^A-Za-z0-9_.]/g, '_') || 'value';
    let name = base;
    for (let i = 1; this.#names.has(name); i++) name = `${base}_${i}`;
    this.#names.add(name);
    return name;
  }

  /** A float32 initializer (a weight) of the given shape. */
  float32(stem: string, values: Float32Array, dims: readonly number[]): string {
    const name = this.fresh(stem);
    this.initializers.push({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: littleEndianBytes(values) });
    return name;
  }

  /** An int64 initializer (the shape-like inputs of Slice and Pad). */
  int64(stem: string, values: number[]): string {
    const name = this.fresh(stem);
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: littleEndianBytes(data) });
    return name;
  }

  /** Appends a node; returns the name of its (single) output. */
  node(opType: string, inputs: string[], stem: string, attributes: Record<string, AttributeValue> = {}): string {
    const output = this.fresh(stem);
    this.nodes.push({
      opType,
      name: this.fresh(`${stem}/${opType}`),
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return output;
  }
}

function attribute(name: string, value: AttributeValue): OnnxNamespace.IAttributeProto {
  const Type = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return { name, type: Type.INTS, ints: value };
  if (typeof value === 'string') return { name, type: Type.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: Type.INT, i: value };
  return { name, type: Type.FLOAT, f: value.float };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian whatever the machine. */
function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const width = values.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  if (values instanceof Float32Array) values.forEach((v, i) => view.setFloat32(i * width, v, true));
  else values.forEach((v, i) => view.setBigInt64(i * width, v, true));
  return bytes;
}

/** A graph input or output: float32 with the given shape, the first dimension named when dynamic. */
export function valueInfo(name: string, shape: number[], dynamicBatch: boolean): OnnxNamespace.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d, i) => (i === 0 && dynamicBatch ? { dimParam: 'batch' } : { dimValue: d })) },
      },
    },
  };
}
