// cpu-infer: ResNet-18 and ResNet-50 inference (eval mode, rn.noGrad) at batch 1 and 8, 224x224,
// with batch norm folded into the convolutions (rn.nn.fuseForInference), as onnxruntime folds it
// when it loads the model. Peers: PyTorch (torch.no_grad, eval: eager, BN not folded) and
// onnxruntime-node on the same torchvision models exported to ONNX.
import * as rn from '../../lib/index.js';
import type { Runner, Workload } from '../harness.js';
import { timed, type Suite } from './suite.js';

const SIZE = 224;

function inferWorkload(model: 'resnet18' | 'resnet50', batch: number): Workload {
  return {
    name: `${model} infer b${batch}`,
    batch,
    spec: { kind: 'infer', model, batch, size: SIZE },
    peers: ['torch', 'onnxruntime'],
    ours(): Runner {
      const net = (model === 'resnet18' ? rn.models.resnet18() : rn.models.resnet50()).eval();
      rn.nn.fuseForInference(net);
      const x = rn.randn([batch, 3, SIZE, SIZE]);
      return {
        run: () => timed(() => rn.scope(() => { rn.noGrad(() => net.forward(x)); })),
        dispose: () => {
          x.dispose();
          for (const t of [...net.parameters(), ...net.buffers()]) t.dispose();
        },
      };
    },
  };
}

export const cpuInfer: Suite = {
  name: 'cpu-infer',
  description: 'ResNet-18 / ResNet-50 inference at batch 1 and 8, 224x224 (ours: BN folded into the convolutions)',
  defaultRuns: 5,
  peers: ['torch', 'onnxruntime'],
  workloads: () => [
    inferWorkload('resnet18', 1),
    inferWorkload('resnet18', 8),
    inferWorkload('resnet50', 1),
    inferWorkload('resnet50', 8),
  ],
};
