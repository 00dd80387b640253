// Batch norms as a trained model has them, for the tests of BN folding.
import * as rn from '../../lib/index.js';

/** Gives every BN non-trivial statistics and affine parameters, as after training. */
export function randomiseBatchNorms(model: rn.nn.Module): void {
  rn.noGrad(() => {
    for (const [name, t] of Object.entries(model.stateDict())) {
      if (/running_var$/.test(name)) rn.nn.init.uniform(t, 0.5, 2);
      else if (/running_mean$|bn\d\.bias$|downsample\.1\.bias$/.test(name)) rn.nn.init.normal(t, 0, 0.3);
      else if (/bn\d\.weight$|downsample\.1\.weight$/.test(name)) rn.nn.init.uniform(t, 0.5, 1.5);
    }
  });
}
