// cudnn-resnet: the public surface.
import './tensor_methods.js';

export { Tensor, type DType, type MemoryFormat, type Device, type ToOptions } from './tensor.js';
export type { BackwardOptions } from './tensor_methods.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, rand, randn, arange, type CreateOptions } from './creation.js';
export { scope, keep, memory, type MemoryInfo } from './memory.js';
export { noGrad, isGradEnabled } from './autograd.js';
export { manualSeed } from './random.js';
export { backends, setNumThreads, setGemmBackend, type Backends } from './backends.js';
export { add, sub, mul, div, scale, affine, relu, sigmoid } from './ops/elementwise.js';
export { sum, mean } from './ops/reduce.js';
export { reshape, flatten, concat, narrow, shortcutA } from './ops/shape.js';
export { conv2d, type Conv2dOptions } from './ops/conv.js';
export { batchNorm2d, bnAddRelu, type BatchNormOptions } from './ops/norm.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions } from './ops/pool.js';
export { matmul, linear } from './ops/linear.js';
export { crossEntropy, type CrossEntropyOptions } from './ops/loss.js';
export * as optim from './optim/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as io from './io/index.js';
export * as data from './data/index.js';
