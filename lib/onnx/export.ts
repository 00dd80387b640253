// rn.onnx.exportModel: a model of the registry, in eval mode, as an ONNX file (opset 13) that
// onnxruntime and other ONNX runtimes run: the graph of its forward pass with the weights as
// initializers. A model folded by fuseForInference() exports its folded convolutions.
import { writeFileAtomicallySync } from '../io/atomic_write.js';
import { Module } from '../nn/module.js';
import { emitModule } from './emit.js';
import { GraphBuilder, IR_VERSION, OPSET, onnx, valueInfo } from './graph.js';

export interface ExportOptions {
  /** The input's shape, (N, C, H, W): N the batch size (the default one when dynamic). */
  inputShape: [number, number, number, number];
  /** Let the batch dimension vary (named 'batch' in the file; default true). */
  dynamicBatch?: boolean;
  /** The graph's name (default: the model's class name). */
  name?: string;
  /** Key-value pairs stored in the file's metadata_props (class names, preprocessing ...). */
  metadata?: Record<string, string>;
}

const OPTION_KEYS = ['inputShape', 'dynamicBatch', 'name', 'metadata'];

function checkOptions(model: unknown, options: ExportOptions): Required<Omit<ExportOptions, 'name' | 'metadata'>> {
  if (!(model instanceof Module)) throw new TypeError('onnx.exportModel: model must be an rn.nn.Module (a model of rn.models)');
  if (model.training) throw new TypeError('onnx.exportModel: the model is in training mode; call model.eval() first (the export is of the inference graph)');
  if (typeof options !== 'object' || options === null) throw new TypeError('onnx.exportModel: options must be an object with inputShape, e.g. { inputShape: [1, 3, 224, 224] }');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) throw new TypeError(`onnx.exportModel: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`);
  }
  const { inputShape, dynamicBatch = true } = options;
  if (!Array.isArray(inputShape) || inputShape.length !== 4 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`onnx.exportModel: inputShape must be four positive integers (N, C, H, W), got ${JSON.stringify(inputShape)}`);
  }
  if (typeof dynamicBatch !== 'boolean') throw new TypeError(`onnx.exportModel: dynamicBatch must be a boolean, got ${String(dynamicBatch)}`);
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (typeof value !== 'string') throw new TypeError(`onnx.exportModel: metadata values must be strings; '${key}' is a ${typeof value}`);
  }
  return { inputShape, dynamicBatch };
}

/** The ONNX file's bytes for `model` (see exportModel). */
export function encodeModel(model: Module, options: ExportOptions): Uint8Array {
  const { inputShape, dynamicBatch } = checkOptions(model, options);
  const firstConv = model.modules().find((m) => 'inChannels' in m && 'kernelSize' in m) as { inChannels: number } | undefined;
  if (firstConv && firstConv.inChannels !== inputShape[1]) {
    throw new RangeError(`onnx.exportModel: inputShape has ${inputShape[1]} channels but the model's first convolution takes ${firstConv.inChannels}`);
  }
  const g = new GraphBuilder();
  const input = { name: g.fresh('input'), shape: inputShape };
  const result = emitModule(g, model, input, '');
  const output = g.node('Identity', [result.name], 'logits');
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'cudnn-resnet',
    graph: {
      name: options.name ?? model.constructor.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(input.name, inputShape, dynamicBatch)],
      output: [valueInfo(output, result.shape, dynamicBatch)],
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(proto).finish();
}

/**
 * Writes `model` (eval mode) to `path` as ONNX: input 'input' float32 (N, C, H, W), output
 * 'logits' float32 (N, classes); with dynamicBatch (the default) N is named 'batch'. Every
 * model of rn.models exports; another module is a RangeError naming it.
 */
export function exportModel(model: Module, path: string, options: ExportOptions): void {
  if (typeof path !== 'string' || path === '') throw new TypeError('onnx.exportModel: path must be a file name');
  const bytes = encodeModel(model, options);
  writeFileAtomicallySync(path, (write) => write(bytes));
}
