export {
  ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, resnet101, resnet152, plain18, plain34,
  type ResNetOptions, type BlockType,
} from './resnet.js';
export { CifarResNet, CifarBlock, cifarResNet, type CifarResNetOptions, type ShortcutOption } from './cifar.js';
export { createModel, isCifarModel, MODEL_NAMES, type ModelSpec } from './registry.js';
