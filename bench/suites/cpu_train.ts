// cpu-train: one SGD step (zero_grad, forward, cross-entropy, backward, step) of ResNet-18 at
// batch 8 224x224 and of the CIFAR ResNet-20 / ResNet-56 (option-A shortcuts) at batch 128 32x32.
// SGD: lr 0.01, momentum 0.9, weight decay 1e-4 on both sides. ResNet-20 also runs with forward and
// loss under autocast bfloat16 (rn.autocast / torch.autocast('cpu')): on a CPU with AVX-512 BF16
// its convolutions and linear layer then compute in bfloat16 (rn.backends().cpu.bf16).
import * as rn from '../../lib/index.js';
import type { Runner, Workload } from '../harness.js';
import { timed, type Suite } from './suite.js';

type TrainModel = 'resnet18' | 'cifar-resnet20' | 'cifar-resnet56';
const SGD = { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 };

function trainWorkload(model: TrainModel, batch: number, size: number, numClasses: number, amp?: 'bfloat16'): Workload {
  const forward = (f: () => rn.Tensor) => (amp ? rn.autocast({ dtype: amp }, f) : f());
  return {
    name: `${model} train step b${batch} ${size}x${size}${amp ? ' amp-bf16' : ''}`,
    batch,
    spec: { kind: 'train', model, batch, size, numClasses, ...SGD, ...(amp ? { amp } : {}) },
    peers: ['torch'],
    ours(): Runner {
      const net = model === 'resnet18'
        ? rn.models.resnet18({ numClasses })
        : rn.models.cifarResNet({ depth: model === 'cifar-resnet20' ? 20 : 56, numClasses });
      net.train();
      const opt = new rn.optim.SGD(net.parameters(), SGD);
      const x = rn.randn([batch, 3, size, size]);
      const labels = rn.tensor(Array.from({ length: batch }, (_, i) => (i * 7919) % numClasses), [batch], { dtype: 'int64' });
      return {
        run: () => timed(() => rn.scope(() => {
          opt.zeroGrad();
          const loss = forward(() => rn.crossEntropy(net.forward(x), labels));
          loss.backward();
          opt.step();
        })),
        dispose: () => {
          opt.dispose();
          x.dispose();
          labels.dispose();
          for (const t of [...net.parameters(), ...net.buffers()]) t.dispose();
        },
      };
    },
  };
}

export const cpuTrain: Suite = {
  name: 'cpu-train',
  description: 'one SGD training step: ResNet-18 b8 224x224, CIFAR ResNet-20 (float32 and amp bfloat16) / ResNet-56 b128 32x32',
  defaultRuns: 5,
  peers: ['torch'],
  workloads: () => [
    trainWorkload('resnet18', 8, 224, 1000),
    trainWorkload('cifar-resnet20', 128, 32, 10),
    trainWorkload('cifar-resnet20', 128, 32, 10, 'bfloat16'),
    trainWorkload('cifar-resnet56', 128, 32, 10),
  ],
};
