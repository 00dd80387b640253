// The CIFAR-10 networks of the ResNet paper's section 4.2: depth 6n + 2, a 3x3 stem with 16
// filters, three stages of n basic blocks with 16, 32 and 64 filters (stride 2 between stages),
// global average pooling and a 10-way fc. Shortcut options when dimensions grow:
//   A: identity, subsampled, with zero-padded extra channels (no parameters; the paper's choice)
//   B: a 1x1 projection (conv + BN) only where dimensions change
//   C: projections on every block
// `plain: true` drops the shortcuts (the plain-20/32/44/56 baselines).
import { flatten, shortcutA } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, ConvBn, Linear, Sequential, applyInOrder } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { BasicBlock, initialiseResNet } from './resnet.js';

export type ShortcutOption = 'A' | 'B' | 'C';

export interface CifarResNetOptions {
  /** 6n + 2: 20, 32, 44, 56, 110, 1202 ... */
  depth: number;
  /** No shortcuts (default false). */
  plain?: boolean;
  /** Shortcut option (default 'A'). */
  shortcut?: ShortcutOption;
  numClasses?: number;
  inChannels?: number;
  zeroInitResidual?: boolean;
}

/** A basic block whose shortcut follows option A, B or C (or none, when plain). */
export class CifarBlock extends BasicBlock {
  readonly #zeroPadTo: number | null;
  readonly #stride: number;

  constructor(inPlanes: number, planes: number, stride: number, shortcut: ShortcutOption, plain: boolean) {
    const changes = stride !== 1 || inPlanes !== planes;
    const project = !plain && (shortcut === 'C' || (shortcut === 'B' && changes));
    const downsample = project ? new Sequential(new Conv2d(inPlanes, planes, 1, { stride, bias: false }), new BatchNorm2d(planes)) : null;
    super({ inPlanes, planes, stride, downsample, groups: 1, baseWidth: 64, strideOn: 'v1.5', plain });
    this.#zeroPadTo = !plain && shortcut === 'A' && changes ? planes : null;
    this.#stride = stride;
  }
  /** x, downsample(x) (options B, C), x subsampled and zero-padded (option A), or none (plain). */
  protected override shortcut(x: Tensor): Tensor | null {
    return this.#zeroPadTo !== null ? shortcutA(x, this.#zeroPadTo, this.#stride) : super.shortcut(x);
  }
}

/**
 * The three stages of the CIFAR layout (16, 32 and 64 planes; stride 2 into the second and
 * third), n blocks each, built by `makeBlock`; returns them and the channels they end with.
 */
export function cifarStages(n: number, makeBlock: (inPlanes: number, planes: number, stride: number) => Module,
  expansion = 1): { stages: [Sequential, Sequential, Sequential]; outPlanes: number } {
  let inPlanes = 16;
  const stage = (planes: number, stride: number): Sequential => {
    const blocks: Module[] = [];
    for (let i = 0; i < n; i++) {
      blocks.push(makeBlock(inPlanes, planes, i === 0 ? stride : 1));
      inPlanes = planes * expansion;
    }
    return new Sequential(...blocks);
  };
  const stages: [Sequential, Sequential, Sequential] = [stage(16, 1), stage(32, 2), stage(64, 2)];
  return { stages, outPlanes: inPlanes };
}

/**
 * The CIFAR network shared by the CIFAR ResNets and the Highway nets: a 3x3 stem with 16 filters,
 * the three stages of `makeBlock` blocks (depth 6n + 2), global average pooling and a linear
 * classifier. `name` prefixes its configuration errors.
 */
export abstract class CifarNet extends Module {
  readonly depth: number;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  readonly #stem: ConvBn;

  protected constructor(name: string, depth: number, numClasses: number, inChannels: number,
    makeBlock: (inPlanes: number, planes: number, stride: number) => Module) {
    super();
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
      throw new RangeError(`${name}: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110, 1202 ...), got ${depth}`);
    }
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`${name}: numClasses must be a positive integer, got ${numClasses}`);
    this.depth = depth;
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, 16, 3, { padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16));
    this.#stem = new ConvBn(this, this.conv1, this.bn1);
    const { stages: [first, second, third] } = cifarStages((depth - 2) / 6, makeBlock);
    this.layer1 = this.registerModule('layer1', first);
    this.layer2 = this.registerModule('layer2', second);
    this.layer3 = this.registerModule('layer3', third);
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new Linear(64, numClasses));
  }

  forward(x: Tensor): Tensor {
    return applyInOrder(x, [(t) => this.#stem.forwardRelu(t), this.layer1, this.layer2, this.layer3, this.avgpool,
      (t) => flatten(t, 1), this.fc]);
  }
}

export class CifarResNet extends CifarNet {
  constructor(options: CifarResNetOptions) {
    const known = ['depth', 'plain', 'shortcut', 'numClasses', 'inChannels', 'zeroInitResidual'];
    for (const key of Object.keys(options ?? {})) {
      if (!known.includes(key)) throw new TypeError(`cifarResNet: unknown option '${key}' (known: ${known.join(', ')})`);
    }
    const { depth, plain = false, shortcut = 'A', numClasses = 10, inChannels = 3 } = options ?? ({} as CifarResNetOptions);
    if (shortcut !== 'A' && shortcut !== 'B' && shortcut !== 'C') {
      throw new TypeError(`cifarResNet: shortcut must be 'A', 'B' or 'C', got ${String(shortcut)}`);
    }
    super('cifarResNet', depth, numClasses, inChannels,
      (inPlanes, planes, stride) => new CifarBlock(inPlanes, planes, stride, shortcut, plain));
    initialiseResNet(this, options.zeroInitResidual ?? false);
  }
}

export function cifarResNet(options: CifarResNetOptions): CifarResNet {
  return new CifarResNet(options);
}
