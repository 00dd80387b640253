// Batch norm folded into the convolution before it, for inference: in eval mode
//   bn(conv(x)) = conv'(x),  w' = w * s,  b' = (b - mean) * s + beta,  s = gamma / sqrt(var + eps)
// (per output channel), which saves one pass over every activation (onnxruntime and TensorRT do
// the same). The folded BN becomes the identity; the model then runs in eval mode only.
import { noGrad } from '../autograd.js';
import { tensor } from '../creation.js';
import { keep, untracked } from '../memory.js';
import { mul } from '../ops/elementwise.js';
import { BatchNorm2d, Conv2d } from './layers.js';
import type { Module } from './module.js';

/** Folds every foldable (conv, BN) pair of the model (see Module.foldablePairs); returns how many. */
export function fuseForInference(model: Module): number {
  let folded = 0;
  model.eval();
  noGrad(() => untracked(() => {
    for (const m of model.modules()) {
      for (const [conv, bn] of m.foldablePairs()) {
        if (!(conv instanceof Conv2d) || !(bn instanceof BatchNorm2d)) continue;
        if (bn.folded || !bn.runningMean || !bn.runningVar) continue;
        foldPair(conv, bn);
        folded++;
      }
    }
  }));
  return folded;
}

function foldPair(conv: Conv2d, bn: BatchNorm2d): void {
  const out = conv.outChannels;
  const mean = bn.runningMean!.toArray() as Float32Array, variance = bn.runningVar!.toArray() as Float32Array;
  const gamma = bn.weight?.toArray() as Float32Array | undefined, beta = bn.bias?.toArray() as Float32Array | undefined;
  const convBias = conv.bias?.toArray() as Float32Array | undefined;
  const scale = new Float32Array(out), shift = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    // In double, as the rounding of s matters most for channels with a small variance.
    const s = (gamma ? gamma[o]! : 1) / Math.sqrt(variance[o]! + bn.eps);
    scale[o] = s;
    shift[o] = ((convBias ? convBias[o]! : 0) - mean[o]!) * s + (beta ? beta[o]! : 0);
  }
  const device = conv.weight.device;
  const s = tensor(scale, [out, 1, 1, 1], { device });
  const scaled = mul(conv.weight, s);
  const weight = keep(scaled.to({ memoryFormat: conv.weight.memoryFormat }));
  if (weight !== scaled) scaled.dispose();
  s.dispose();
  conv.setFolded(weight, keep(tensor(shift, [out], { device })));
  bn.markFolded();
}
