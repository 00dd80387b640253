// Running an ONNX file in onnxruntime-node (a dev dependency; its CPU provider ships in the package).
import * as ort from 'onnxruntime-node';
import * as rn from '../../lib/index.js';

/** The logits onnxruntime computes for `input` (N, C, H, W) with the file at `path`. */
export async function runOnnx(path: string, input: Float32Array, shape: number[]): Promise<{ logits: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: 2 });
  try {
    const out = await session.run({ input: new ort.Tensor('float32', input, shape) });
    const logits = out.logits!;
    return { logits: logits.data as Float32Array, dims: logits.dims };
  } finally {
    await session.release();
  }
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / (scale || 1);
}

/** Gives every batch norm non-trivial statistics and affine parameters, as after training. */
export function randomiseAllBatchNorms(model: rn.nn.Module): void {
  rn.noGrad(() => {
    for (const m of model.modules()) {
      if (!(m instanceof rn.nn.BatchNorm2d)) continue;
      if (m.runningVar) rn.nn.init.uniform(m.runningVar, 0.5, 2);
      if (m.runningMean) rn.nn.init.normal(m.runningMean, 0, 0.3);
      if (m.weight) rn.nn.init.uniform(m.weight, 0.5, 1.5);
      if (m.bias) rn.nn.init.normal(m.bias, 0, 0.3);
    }
  });
}
