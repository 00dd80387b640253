// Batch norm folded into convolutions for inference: same eval outputs, fewer passes.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { relativeError } from './helpers/reference.js';
import { randomiseBatchNorms } from './helpers/batch_norms.js';

describe('fuseForInference', () => {
  const cases: [string, () => rn.nn.Module, number[], number][] = [
    ['ResNet-18', () => rn.models.resnet18({ numClasses: 10 }), [2, 3, 64, 64], 20],
    ['ResNet-50 (bottlenecks)', () => rn.models.resnet50({ numClasses: 10 }), [1, 3, 64, 64], 53],
    ['CIFAR ResNet-20 (option B shortcuts)', () => rn.models.cifarResNet({ depth: 20, shortcut: 'B' }), [4, 3, 32, 32], 21],
    ['Highway-20 (the blocks\' F, the stem and the projections; the gates have no BN)', () => rn.models.highway({ depth: 20 }), [2, 3, 32, 32], 21],
  ];
  for (const [name, make, shape, pairs] of cases) {
    it(`${name}: folds every conv-BN pair and keeps the eval outputs`, () => {
      rn.manualSeed(2);
      const model = make();
      randomiseBatchNorms(model);
      const x = rn.randn(shape);
      const before = rn.noGrad(() => model.eval().forward(x)).toArray() as Float32Array;
      expect(rn.nn.fuseForInference(model)).toBe(pairs);
      const after = rn.noGrad(() => model.forward(x)).toArray() as Float32Array;
      expect(relativeError(after, before)).toBeLessThan(1e-5);
      expect(rn.nn.fuseForInference(model)).toBe(0);  // nothing left to fold
      model.train();
      expect(() => model.forward(x)).toThrow(/eval mode/);
    });
  }

  it('works on a channels-last model and keeps its weights channels-last', () => {
    rn.manualSeed(3);
    const model = rn.models.resnet18({ numClasses: 5 }).to({ memoryFormat: 'channelsLast' });
    randomiseBatchNorms(model);
    const x = rn.randn([1, 3, 64, 64], { memoryFormat: 'channelsLast' });
    const before = rn.noGrad(() => model.eval().forward(x)).toArray() as Float32Array;
    rn.nn.fuseForInference(model);
    expect(relativeError(rn.noGrad(() => model.forward(x)).toArray() as Float32Array, before)).toBeLessThan(1e-5);
    for (const p of model.parameters()) if (p.ndim === 4) expect(p.memoryFormat).toBe('channelsLast');
  });
});
