export {
  ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, resnet101, resnet152, plain18, plain34,
  type ResNetOptions, type BlockType,
} from './resnet.js';
export { CifarNet, CifarResNet, CifarBlock, cifarResNet, type CifarResNetOptions, type ShortcutOption } from './cifar.js';
export { HighwayNet, HighwayBlock, highway, type HighwayOptions } from './highway.js';
export {
  DenseNet, DenseBlock, DenseLayer, Transition, NamedSequential, densenet, densenet121,
  type DenseNetOptions, type CifarDenseNetOptions,
} from './densenet.js';
export { PreActResNet, PreActBlock, preactResNet, preActBlockKind, type PreActResNetOptions, type PreActBlockKind } from './preact.js';
export { createModel, isCifarModel, MODEL_NAMES, CIFAR_DEPTHS, type ModelSpec } from './registry.js';
