// One training step on a batch already on the model's device: zero the gradients, forward (under
// autocast with `amp`), cross-entropy, backward, optimizer step (through the GradScaler for
// float16). It reads nothing back, so on the GPU it can be captured in a CUDA graph (GraphedSteps).
import { autocast, type LowPrecision } from '../amp/autocast.js';
import type { GradScaler } from '../amp/grad_scaler.js';
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../ops/loss.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Tensor } from '../tensor.js';
import type { StepBody, StepOutputs } from './graph_steps.js';

export function trainStep(model: Module, optimizer: Optimizer, amp?: LowPrecision, scaler: GradScaler | null = null): StepBody {
  return (images: Tensor, labels: Tensor): StepOutputs => {
    optimizer.zeroGrad();
    const logits = autocast({ dtype: amp ?? 'bfloat16', enabled: amp !== undefined }, () => model.forward(images));
    const loss = crossEntropy(logits, labels, { checkLabels: false });  // GPU labels: checked on the host by the loop
    if (scaler) {
      scaler.scale(loss).backward();
      scaler.step(optimizer);
      scaler.update();
    } else {
      loss.backward();
      optimizer.step();
    }
    return { loss, logits };
  };
}
