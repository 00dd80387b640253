// Central finite differences for checking backward rules. The function under test maps input
// tensors to an output; the check reduces the output to a scalar with fixed random weights
// (so no gradient cancels by symmetry) and compares each input's autograd gradient with
// (L(x + eps) - L(x - eps)) / 2eps, element by element.
import { expect } from 'vitest';
import * as rn from '../../lib/index.js';

export interface GradcheckOptions {
  eps?: number;
  /** Allowed error, relative to the largest gradient magnitude of that input. */
  tolerance?: number;
}

function scalarLoss(output: rn.Tensor, weights: rn.Tensor): rn.Tensor {
  const weighted = rn.mul(output, weights);
  const loss = rn.sum(weighted);
  weighted.dispose();
  return loss;
}

export function gradcheck(
  fn: (...inputs: rn.Tensor[]) => rn.Tensor,
  inputs: rn.Tensor[],
  options: GradcheckOptions = {},
): void {
  const eps = options.eps ?? 1e-2;
  const tolerance = options.tolerance ?? 2e-2;
  rn.scope(() => {
    const probe = rn.noGrad(() => fn(...inputs));
    const weights = rn.randn([...probe.shape]);
    probe.dispose();
    for (const x of inputs) {
      x.grad?.dispose();
      x.grad = null;
    }
    const loss = scalarLoss(fn(...inputs), weights);
    loss.backward();
    inputs.forEach((x, index) => {
      if (!x.requiresGrad) return;
      expect(x.grad, `input ${index} got no gradient`).not.toBeNull();
      const analytic = x.grad!.toArray() as Float32Array;
      const base = Float32Array.from(x.toArray() as Float32Array);
      const numeric = new Float64Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const evaluate = (delta: number): number =>
          rn.noGrad(() =>
            rn.scope(() => {
              const values = Float32Array.from(base);
              values[i] = base[i]! + delta;
              const shifted = inputs.map((t) => (t === x ? rn.tensor(values, [...x.shape]) : t));
              return scalarLoss(fn(...shifted), weights).item();
            }),
          );
        numeric[i] = (evaluate(eps) - evaluate(-eps)) / (2 * eps);
      }
      const scale = Math.max(1, ...Array.from(numeric, Math.abs));
      let worst = 0;
      let worstAt = -1;
      for (let i = 0; i < base.length; i++) {
        const err = Math.abs(analytic[i]! - numeric[i]!) / scale;
        if (err > worst) {
          worst = err;
          worstAt = i;
        }
      }
      expect(
        worst,
        `input ${index} (shape [${x.shape}]): element ${worstAt} analytic ${analytic[worstAt]} vs numeric ${numeric[worstAt]}`,
      ).toBeLessThan(tolerance);
    });
  });
}
