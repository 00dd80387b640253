// DenseNets (Huang, Liu, van der Maaten and Weinberger, 2017) with torchvision's layer names,
// shapes and initialisation. A dense block's layers each see the concatenation of every map
// before them (the block's input and all earlier layers' outputs) and add `growthRate` channels;
// layers are the bottleneck ("B") kind, BN-ReLU-conv1x1(bnSize · k)-BN-ReLU-conv3x3(k), and
// transitions between blocks compress ("C") the channels by `compression`:
// BN-ReLU-conv1x1(floor(θ · C))-avgpool 2x2. After the last block: BN, ReLU, global average
// pooling, a fc layer (`classifier`). Convolutions have no bias.
//   densenet121: ImageNet stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), blocks (6, 12, 24, 16), k = 32
//   densenet({ depth }): CIFAR DenseNet-BC, a 3x3 conv with 2k filters, three blocks of
//     (depth − 4) / 6 layers, k = 12 by default (DenseNet-BC-100: 769,162 parameters)
// Every concatenation copies its inputs, and the autograd tape keeps each layer's concatenated
// input for the backward pass of its first BN: memory grows with the square of a block's length.
import { relu } from '../ops/elementwise.js';
import { adaptiveAvgPool2d, avgPool2d } from '../ops/pool.js';
import { concat, flatten } from '../ops/shape.js';
import { scope } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { kaimingNormal, ones, zeros } from '../nn/init.js';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU, Sequential, applyInOrder } from '../nn/layers.js';
import { Module } from '../nn/module.js';

/** Children registered under the given names and applied in order (torchvision's nn.Sequential(OrderedDict)). */
export class NamedSequential extends Module {
  readonly #inOrder: Sequential;

  constructor(layers: [string, Module][]) {
    super();
    for (const [name, layer] of layers) this.registerModule(name, layer);
    this.#inOrder = new Sequential(...layers.map(([, layer]) => layer));
  }
  forward(x: Tensor): Tensor {
    return this.#inOrder.forward(x);
  }
}

/** BN-ReLU-conv1x1(bnSize · k)-BN-ReLU-conv3x3(k) on the concatenation of its inputs. */
export class DenseLayer extends NamedSequential {
  constructor(numInputFeatures: number, growthRate: number, bnSize: number) {
    super([
      ['norm1', new BatchNorm2d(numInputFeatures)],
      ['relu1', new ReLU()],
      ['conv1', new Conv2d(numInputFeatures, bnSize * growthRate, 1, { bias: false })],
      ['norm2', new BatchNorm2d(bnSize * growthRate)],
      ['relu2', new ReLU()],
      ['conv2', new Conv2d(bnSize * growthRate, growthRate, 3, { padding: 1, bias: false })],
    ]);
  }
  /** features: maps (N, C_i, H, W) with C_0 + C_1 + ... = numInputFeatures -> (N, k, H, W). */
  override forward(...features: Tensor[]): Tensor {
    if (features.length === 1) return super.forward(features[0]!);
    return scope(() => super.forward(concat(features, 1)));
  }
}

/** denselayer1 ... denselayerL; (N, C, H, W) -> (N, C + L · k, H, W). */
export class DenseBlock extends Module {
  readonly #layers: DenseLayer[] = [];

  constructor(numLayers: number, numInputFeatures: number, bnSize: number, growthRate: number) {
    super();
    for (let i = 0; i < numLayers; i++) {
      const layer = new DenseLayer(numInputFeatures + i * growthRate, growthRate, bnSize);
      this.#layers.push(this.registerModule(`denselayer${i + 1}`, layer));
    }
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const features = [x];
      for (const layer of this.#layers) features.push(layer.forward(...features));
      return concat(features, 1);
    });
  }
}

/** BN-ReLU-conv1x1-avgpool 2x2: (N, C, H, W) -> (N, C', H / 2, W / 2). */
export class Transition extends NamedSequential {
  constructor(numInputFeatures: number, numOutputFeatures: number) {
    super([
      ['norm', new BatchNorm2d(numInputFeatures)],
      ['relu', new ReLU()],
      ['conv', new Conv2d(numInputFeatures, numOutputFeatures, 1, { bias: false })],
    ]);
  }
  override forward(x: Tensor): Tensor {
    return scope(() => avgPool2d(super.forward(x), { kernelSize: 2, stride: 2 }));
  }
}

export interface DenseNetOptions {
  /** Layers in each dense block: (6, 12, 24, 16) for DenseNet-121. */
  blockConfig: number[];
  /** Channels each dense layer adds, k (default 32). */
  growthRate?: number;
  /** Channels of the stem convolution (default 64). */
  numInitFeatures?: number;
  /** Bottleneck width in multiples of k (default 4). */
  bnSize?: number;
  /** θ: the fraction of channels a transition keeps (default 0.5). */
  compression?: number;
  /** 'imagenet': 7x7/2 conv, BN, ReLU, 3x3/2 max pool; 'cifar': one 3x3 conv (default 'imagenet'). */
  stem?: 'imagenet' | 'cifar';
  numClasses?: number;
  inChannels?: number;
}

const OPTION_KEYS = ['blockConfig', 'growthRate', 'numInitFeatures', 'bnSize', 'compression', 'stem', 'numClasses', 'inChannels'];

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`DenseNet: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** features (conv0 ... denseblockB, norm5), then ReLU, global average pool, classifier. */
export class DenseNet extends Module {
  readonly features: NamedSequential;
  readonly classifier: Linear;

  constructor(options: DenseNetOptions) {
    super();
    for (const key of Object.keys(options ?? {})) {
      if (!OPTION_KEYS.includes(key)) throw new TypeError(`DenseNet: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`);
    }
    const { blockConfig, growthRate = 32, numInitFeatures = 64, bnSize = 4, compression = 0.5, stem = 'imagenet',
      numClasses = 1000, inChannels = 3 } = options ?? ({} as DenseNetOptions);
    if (!Array.isArray(blockConfig) || blockConfig.length === 0) {
      throw new RangeError('DenseNet: blockConfig must list the layers of each dense block, e.g. [6, 12, 24, 16]');
    }
    blockConfig.forEach((n) => positiveInteger('every entry of blockConfig', n));
    [['growthRate', growthRate], ['numInitFeatures', numInitFeatures], ['bnSize', bnSize], ['numClasses', numClasses],
      ['inChannels', inChannels]].forEach(([name, value]) => positiveInteger(name as string, value as number));
    if (!(compression > 0 && compression <= 1)) throw new RangeError(`DenseNet: compression must be in (0, 1] (0.5 halves the channels at each transition), got ${compression}`);
    if (stem !== 'imagenet' && stem !== 'cifar') throw new TypeError(`DenseNet: stem must be 'imagenet' or 'cifar', got ${String(stem)}`);

    const layers: [string, Module][] = stem === 'imagenet'
      ? [
        ['conv0', new Conv2d(inChannels, numInitFeatures, 7, { stride: 2, padding: 3, bias: false })],
        ['norm0', new BatchNorm2d(numInitFeatures)],
        ['relu0', new ReLU()],
        ['pool0', new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 })],
      ]
      : [['conv0', new Conv2d(inChannels, numInitFeatures, 3, { padding: 1, bias: false })]];
    let channels = numInitFeatures;
    blockConfig.forEach((numLayers, i) => {
      layers.push([`denseblock${i + 1}`, new DenseBlock(numLayers, channels, bnSize, growthRate)]);
      channels += numLayers * growthRate;
      if (i === blockConfig.length - 1) return;
      const compressed = Math.floor(channels * compression);
      if (compressed < 1) throw new RangeError(`DenseNet: compression ${compression} leaves transition${i + 1} no channels; raise it`);
      layers.push([`transition${i + 1}`, new Transition(channels, compressed)]);
      channels = compressed;
    });
    // torchvision names the final BN norm5 whatever the number of blocks.
    layers.push(['norm5', new BatchNorm2d(channels)]);
    this.features = this.registerModule('features', new NamedSequential(layers));
    this.classifier = this.registerModule('classifier', new Linear(channels, numClasses));
    initialiseDenseNet(this);
  }

  forward(x: Tensor): Tensor {
    // the features, then ReLU (norm5 and the ReLU run as one fused op), pool, classifier
    return applyInOrder(x, [...this.features.children(), relu, (t) => adaptiveAvgPool2d(t, 1), (t) => flatten(t, 1),
      this.classifier]);
  }
}

/** torchvision's: Kaiming normal convs (fan in, ReLU gain), BN weight 1 / bias 0, classifier bias 0. */
function initialiseDenseNet(model: DenseNet): void {
  for (const m of model.modules()) {
    if (m instanceof Conv2d) kaimingNormal(m.weight);
    else if (m instanceof BatchNorm2d && m.weight && m.bias) {
      ones(m.weight);
      zeros(m.bias);
    } else if (m instanceof Linear && m.bias) zeros(m.bias);
  }
}

export interface CifarDenseNetOptions {
  /** 6n + 4 (n bottleneck layers per block): 40, 100, 190 ... */
  depth: number;
  /** k (default 12). */
  growthRate?: number;
  /** θ (default 0.5). */
  compression?: number;
  numClasses?: number;
  inChannels?: number;
}

/** CIFAR DenseNet-BC: three dense blocks of (depth − 4) / 6 bottleneck layers, a 3x3 stem of 2k filters. */
export function densenet(options: CifarDenseNetOptions): DenseNet {
  const known = ['depth', 'growthRate', 'compression', 'numClasses', 'inChannels'];
  for (const key of Object.keys(options ?? {})) {
    if (!known.includes(key)) throw new TypeError(`densenet: unknown option '${key}' (known: ${known.join(', ')})`);
  }
  const { depth, growthRate = 12, compression = 0.5, numClasses = 10, inChannels = 3 } = options ?? ({} as CifarDenseNetOptions);
  if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
    throw new RangeError(`densenet: depth must be 6n + 4 with n >= 1 (DenseNet-BC: 40, 100, 190 ...), got ${depth}`);
  }
  const n = (depth - 4) / 6;
  return new DenseNet({ blockConfig: [n, n, n], growthRate, numInitFeatures: 2 * growthRate, compression, stem: 'cifar', numClasses, inChannels });
}

/** torchvision's densenet121: blocks (6, 12, 24, 16), k = 32, 64 stem filters; 7,978,856 parameters. */
export function densenet121(options: { numClasses?: number; inChannels?: number } = {}): DenseNet {
  for (const key of Object.keys(options)) {
    if (key !== 'numClasses' && key !== 'inChannels') {
      throw new TypeError(`densenet121: unknown option '${key}' (known: numClasses, inChannels; build other layouts with new DenseNet({ blockConfig, ... }))`);
    }
  }
  return new DenseNet({ blockConfig: [6, 12, 24, 16], growthRate: 32, numInitFeatures: 64, ...options });
}
