// Each model's forward frees its blocks' intermediates itself (every block's forward runs in a
// scope): a forward pass outside any scope leaves only its output live (nothing once disposed), in
// training and in eval mode, recorded for backward or not, before and after fuseForInference.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

describe('model forward leaves only its output', () => {
  const cases: [string, () => rn.nn.Module, number[]][] = [
    ['ResNet-18', () => rn.models.resnet18({ numClasses: 4 }), [2, 3, 32, 32]],
    ['ResNet-50', () => rn.models.resnet50({ numClasses: 4 }), [2, 3, 32, 32]],
    ['plain-18', () => rn.models.plain18({ numClasses: 4 }), [2, 3, 32, 32]],
    ['CIFAR ResNet-20 (option A)', () => rn.models.cifarResNet({ depth: 20 }), [2, 3, 16, 16]],
    ['CIFAR ResNet-20 (option C)', () => rn.models.cifarResNet({ depth: 20, shortcut: 'C' }), [2, 3, 16, 16]],
    ['Highway-20', () => rn.models.highway({ depth: 20 }), [2, 3, 16, 16]],
    ['pre-activation ResNet-20', () => rn.models.preactResNet({ depth: 20 }), [2, 3, 16, 16]],
    ['DenseNet-BC-40', () => rn.models.densenet({ depth: 40 }), [2, 3, 16, 16]],
  ];
  for (const [name, make, shape] of cases) {
    it(name, () => {
      rn.manualSeed(5);
      const model = make();
      const x = rn.randn(shape);
      const live = () => rn.memory().liveTensors;
      const before = live();
      // Recorded for backward, the tape holds what backward needs until the output is disposed.
      for (const mode of ['train', 'eval'] as const) {
        model[mode]();
        model.forward(x).dispose();
        expect(live(), mode).toBe(before);
        const out = rn.noGrad(() => model.forward(x));
        expect(live(), `${mode}, noGrad`).toBe(before + 1);
        out.dispose();
      }
      rn.nn.fuseForInference(model);                   // adds a bias to every folded convolution
      const fusedBefore = live();
      const fused = rn.noGrad(() => model.forward(x));
      expect(live(), 'folded').toBe(fusedBefore + 1);
      fused.dispose();
      x.dispose();
      model.dispose();
    });
  }
});
