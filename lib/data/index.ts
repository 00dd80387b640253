// The data layer: dataset readers (CIFAR-10 binary, IDX, image folders), the synthetic dataset,
// augmentation, the seeded Rng and the DataLoader.
export { ArrayDataset, type ArrayDatasetOptions, type Dataset, type DatasetArrays, type ImageShape, type Sample } from './dataset.js';
export { cifar10, type Cifar10Options } from './cifar10.js';
export { idx, type IdxOptions } from './idx.js';
export { imageFolder, type ImageFolderOptions } from './image_folder.js';
export { synthetic, SyntheticDataset, type SyntheticOptions } from './synthetic.js';
export { randomCrop, randomHorizontalFlip, normalize } from './augment.js';
export { Rng } from './rng.js';
export { DataLoader, type Batch, type DataLoaderOptions } from './loader.js';
export { DistributedSampler, type DistributedSamplerOptions } from './distributed_sampler.js';
