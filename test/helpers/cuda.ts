// What the CUDA tests share: whether they run (a GPU with cuDNN and cuBLAS is present, or
// CUDNN_RESNET_REQUIRE_CUDA=1 makes a missing one a failure), and the CUDA-vs-CPU comparison of
// an op's output and of the gradients of every input.
import { expect } from 'vitest';
import * as rn from '../../lib/index.js';
import { relativeError } from './reference.js';

const info = rn.backends().cuda;
const required = process.env.CUDNN_RESNET_REQUIRE_CUDA === '1';
/** Run the GPU tests: here when CUDA is available, and always where it is required. */
export const runCuda = info.available || required;
export const cudaReason = info.reason ?? '';

/** Announces a skipped file with the reason, once per file. */
export function announceSkip(what: string): void {
  if (!runCuda) console.log(`${what} skipped: ${cudaReason}`);
}
/** First assertion of every GPU test: fails with the reason under CUDNN_RESNET_REQUIRE_CUDA=1. */
export function expectCuda(): void {
  expect(info.available, `CUDA is required here but unavailable: ${cudaReason}`).toBe(true);
}

export const TOLERANCE = 1e-4;

type Inputs = Record<string, rn.Tensor>;

export interface CompareOptions {
  /** Inputs whose gradients are compared (default: every float input that requires grad). */
  tolerance?: number;
  /** Compare only the forward output. */
  forwardOnly?: boolean;
}

/**
 * Runs `op` on CPU inputs and on copies of them on the GPU, and checks that the outputs, and the
 * gradients of every input that requires grad under the same random upstream gradient, agree
 * to ‖cuda − cpu‖ / ‖cpu‖ < tolerance. Returns the errors it measured (for messages).
 */
export function compareOnDevices(name: string, inputs: Inputs, op: (x: Inputs) => rn.Tensor,
  options: CompareOptions = {}): Record<string, number> {
  const tolerance = options.tolerance ?? TOLERANCE;
  const errors: Record<string, number> = {};
  rn.scope(() => {
    const onGpu: Inputs = {};
    for (const [key, t] of Object.entries(inputs)) {
      const copy = rn.noGrad(() => t.to('cuda'));
      if (t.requiresGrad) copy.requiresGrad = true;
      onGpu[key] = copy;
    }
    const cpuOut = op(inputs), gpuOut = op(onGpu);
    expect(gpuOut.device).toBe('cuda');
    expect(gpuOut.shape).toEqual(cpuOut.shape);
    expect(gpuOut.dtype).toBe(cpuOut.dtype);
    expect(gpuOut.memoryFormat).toBe(cpuOut.memoryFormat);
    errors.output = relativeError(gpuOut.toArray() as Float32Array, cpuOut.toArray() as Float32Array);
    if (!options.forwardOnly && cpuOut.requiresGrad) {
      const upstream = rn.randn([...cpuOut.shape]);
      rn.sum(rn.mul(cpuOut, upstream)).backward();
      rn.sum(rn.mul(gpuOut, upstream.to('cuda'))).backward();
      for (const [key, t] of Object.entries(inputs)) {
        if (!t.requiresGrad) continue;
        const g = onGpu[key]!.grad, c = t.grad;
        expect(g, `${name}: no gradient for ${key} on the GPU`).not.toBeNull();
        expect(g!.device).toBe('cuda');
        errors[`d${key}`] = relativeError(g!.toArray() as Float32Array, c!.toArray() as Float32Array);
        t.grad?.dispose();
        t.grad = null;
      }
    }
  });
  for (const [what, e] of Object.entries(errors)) {
    expect(e, `${name}: ${what} differs between CUDA and CPU by ${e.toExponential(2)} (relative)`).toBeLessThan(tolerance);
  }
  return errors;
}

export { param } from './params.js';
