export { Module, type StateDict, type LoadStateDictOptions, type LoadStateDictResult, type ModuleTarget } from './module.js';
export {
  Conv2d, BatchNorm2d, Linear, ReLU, Identity, MaxPool2d, AdaptiveAvgPool2d, Flatten, Sequential, ConvBn, applyInOrder,
  type Layer,
  type Conv2dModuleOptions, type BatchNorm2dOptions,
} from './layers.js';
export * as init from './init.js';
export { fuseForInference } from './fuse.js';
export { SyncBatchNorm, convertSyncBatchNorm } from './sync_batch_norm.js';
export { DistributedDataParallel, type DistributedDataParallelOptions, type DistributedDataParallelStats } from './distributed_data_parallel.js';
