// Trains a model on one fixed batch of synthetic images and records the loss of every step,
// stopping early once the loss is below its first value divided by `stopBelowFraction`.
import * as rn from '../../lib/index.js';

export interface OverfitOptions {
  images: number;
  seed: number;
  lr: number;
  maxSteps: number;
  /** Stop once loss < first loss / this. */
  stopBelowFraction: number;
}

export function overfitLosses(model: rn.nn.Module, o: OverfitOptions): number[] {
  const loader = new rn.data.DataLoader(rn.data.synthetic({ size: o.images, seed: o.seed }),
    { batchSize: o.images, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  const [batch] = [...loader];
  const opt = new rn.optim.SGD(model.parameters(), { lr: o.lr, momentum: 0.9 });
  const losses: number[] = [];
  for (let i = 0; i < o.maxSteps && !(losses.length > 0 && losses[losses.length - 1]! < losses[0]! / o.stopBelowFraction); i++) {
    losses.push(rn.scope(() => {
      opt.zeroGrad();
      const loss = rn.crossEntropy(model.forward(batch!.images), batch!.labels);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  opt.dispose();
  batch!.images.dispose();
  batch!.labels.dispose();
  return losses;
}
