// The ImageNet ResNets of He et al. (2015) as data, with torchvision's layer names, shapes,
// parameter counts and initialisation: a block type with its expansion, and the number of
// blocks in each of the four stages. Plain nets are the same stacks without shortcuts.
import { flatten } from '../ops/shape.js';
import type { Tensor } from '../tensor.js';
import { kaimingNormal, ones, zeros } from '../nn/init.js';
import { scope } from '../memory.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, ConvBn, Linear, MaxPool2d, Sequential, applyInOrder } from '../nn/layers.js';
import { Module } from '../nn/module.js';

export interface BlockConfig {
  inPlanes: number;
  planes: number;
  stride: number;
  /** 1x1 conv + BN on the shortcut, when the shape changes (torchvision's `downsample`). */
  downsample: Sequential | null;
  groups: number;
  baseWidth: number;
  /** 'v1.5' puts the stride on the 3x3 conv of a bottleneck (torchvision), 'v1' on the first 1x1. */
  strideOn: 'v1' | 'v1.5';
  /** No shortcut at all (plain nets). */
  plain: boolean;
}

/**
 * The end of every residual block: relu(bn(conv(h)) + identity) with the fused BN + add + ReLU
 * (one convBiasAct once folded); relu(bn(conv(h))) when there is no shortcut (plain nets).
 */
export function residualTail(last: ConvBn, h: Tensor, identity: Tensor | null): Tensor {
  return identity === null ? last.forwardRelu(h) : last.forwardAddRelu(h, identity);
}

/** Two 3x3 convolutions; relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly plain: boolean;
  readonly #convBn1: ConvBn;
  readonly #convBn2: ConvBn;

  constructor(c: BlockConfig) {
    super();
    if (c.groups !== 1 || c.baseWidth !== 64) {
      throw new RangeError('BasicBlock supports only groups = 1 and widthPerGroup = 64; use a Bottleneck network (resnet50 and deeper) for grouped convolutions');
    }
    this.conv1 = this.registerModule('conv1', new Conv2d(c.inPlanes, c.planes, 3, { stride: c.stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(c.planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(c.planes, c.planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(c.planes));
    this.downsample = c.downsample ? this.registerModule('downsample', c.downsample) : null;
    this.plain = c.plain;
    this.#convBn1 = new ConvBn(this, this.conv1, this.bn1);
    this.#convBn2 = new ConvBn(this, this.conv2, this.bn2);
  }
  lastBatchNorm(): BatchNorm2d {
    return this.bn2;
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const out = this.#convBn1.forwardRelu(x);                                  // relu(bn1(conv1(x)))
      return residualTail(this.#convBn2, out, this.shortcut(x));              // relu(bn2(conv2(out)) + identity)
    });
  }
  /** What the block adds back: x, or downsample(x) where the shape changes; none in a plain net. */
  protected shortcut(x: Tensor): Tensor | null {
    return identityOf(x, this.downsample, this.plain);
  }
}

/** 1x1 reduce, 3x3 (grouped), 1x1 expand (x4); the block of ResNet-50 and deeper. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly plain: boolean;
  readonly #convBn1: ConvBn;
  readonly #convBn2: ConvBn;
  readonly #convBn3: ConvBn;

  constructor(c: BlockConfig) {
    super();
    const width = Math.floor(c.planes * (c.baseWidth / 64)) * c.groups;
    const [stride1, stride2] = c.strideOn === 'v1' ? [c.stride, 1] : [1, c.stride];
    this.conv1 = this.registerModule('conv1', new Conv2d(c.inPlanes, width, 1, { stride: stride1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', new Conv2d(width, width, 3, { stride: stride2, padding: 1, groups: c.groups, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', new Conv2d(width, c.planes * Bottleneck.expansion, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(c.planes * Bottleneck.expansion));
    this.downsample = c.downsample ? this.registerModule('downsample', c.downsample) : null;
    this.plain = c.plain;
    this.#convBn1 = new ConvBn(this, this.conv1, this.bn1);
    this.#convBn2 = new ConvBn(this, this.conv2, this.bn2);
    this.#convBn3 = new ConvBn(this, this.conv3, this.bn3);
  }
  lastBatchNorm(): BatchNorm2d {
    return this.bn3;
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      let out = this.#convBn1.forwardRelu(x);                                    // relu(bn1(conv1(x)))
      out = this.#convBn2.forwardRelu(out);                                      // relu(bn2(conv2(out)))
      return residualTail(this.#convBn3, out, identityOf(x, this.downsample, this.plain));  // relu(bn3(conv3(out)) + identity)
    });
  }
}

/** What a block adds back: x, or downsample(x) where the shape changes; none in a plain net. */
function identityOf(x: Tensor, downsample: Module | null, plain: boolean): Tensor | null {
  if (plain) return null;
  return downsample ? downsample.forward(x) : x;
}

export type BlockType = typeof BasicBlock | typeof Bottleneck;

export interface ResNetOptions {
  /** Output classes (default 1000). */
  numClasses?: number;
  /** Start each residual branch's last BN at weight 0, so every block begins as the identity (default false). */
  zeroInitResidual?: boolean;
  /** Where a bottleneck downsamples: 'v1.5' (3x3 conv, torchvision's default) or 'v1' (first 1x1 conv, the paper). */
  stride?: 'v1' | 'v1.5';
  /** Groups of the 3x3 convolutions (ResNeXt); bottleneck blocks only. */
  groups?: number;
  /** Channels per group of the 3x3 convolutions, at 64 planes (default 64). */
  widthPerGroup?: number;
  /** Input image channels (default 3). */
  inChannels?: number;
  /** Drop every shortcut (the paper's plain nets). */
  plain?: boolean;
}

const OPTION_KEYS = ['numClasses', 'zeroInitResidual', 'stride', 'groups', 'widthPerGroup', 'inChannels', 'plain'];

/** ResNet: stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), four stages, global average pool, fc. */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;
  readonly #stem: ConvBn;

  constructor(block: BlockType, layers: [number, number, number, number], options: ResNetOptions = {}) {
    super();
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) throw new TypeError(`ResNet: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`);
    }
    const numClasses = options.numClasses ?? 1000;
    const groups = options.groups ?? 1;
    const baseWidth = options.widthPerGroup ?? 64;
    const strideOn = options.stride ?? 'v1.5';
    const plain = options.plain ?? false;
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`ResNet: numClasses must be a positive integer, got ${numClasses}`);
    if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`ResNet: groups must be a positive integer, got ${groups}`);
    if (!Number.isInteger(baseWidth) || baseWidth < 1) throw new RangeError(`ResNet: widthPerGroup must be a positive integer, got ${baseWidth}`);
    if (strideOn !== 'v1' && strideOn !== 'v1.5') throw new TypeError(`ResNet: stride must be 'v1' or 'v1.5', got ${String(strideOn)}`);
    if (layers.length !== 4 || layers.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new RangeError(`ResNet: layers must be four positive block counts, got [${layers}]`);
    }
    if (block === BasicBlock && (groups !== 1 || baseWidth !== 64)) {
      throw new RangeError('ResNet: groups and widthPerGroup need bottleneck blocks (resnet50 and deeper); basic blocks support only groups = 1, widthPerGroup = 64');
    }
    this.conv1 = this.registerModule('conv1', new Conv2d(options.inChannels ?? 3, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.#stem = new ConvBn(this, this.conv1, this.bn1);
    this.maxpool = this.registerModule('maxpool', new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }));
    let inPlanes = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      const out = planes * block.expansion;
      const needsProjection = !plain && (stride !== 1 || inPlanes !== out);
      const list: Module[] = [];
      for (let i = 0; i < blocks; i++) {
        const downsample = i === 0 && needsProjection
          ? new Sequential(new Conv2d(inPlanes, out, 1, { stride, bias: false }), new BatchNorm2d(out))
          : null;
        list.push(new block({ inPlanes, planes, stride: i === 0 ? stride : 1, downsample, groups, baseWidth, strideOn, plain }));
        inPlanes = out;
      }
      return new Sequential(...list);
    };
    this.layer1 = this.registerModule('layer1', makeLayer(64, layers[0], 1));
    this.layer2 = this.registerModule('layer2', makeLayer(128, layers[1], 2));
    this.layer3 = this.registerModule('layer3', makeLayer(256, layers[2], 2));
    this.layer4 = this.registerModule('layer4', makeLayer(512, layers[3], 2));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new Linear(512 * block.expansion, numClasses));
    initialiseResNet(this, options.zeroInitResidual ?? false);
  }

  forward(x: Tensor): Tensor {
    return applyInOrder(x, [(t) => this.#stem.forwardRelu(t), this.maxpool, this.layer1, this.layer2, this.layer3, this.layer4,
      this.avgpool, (t) => flatten(t, 1), this.fc]);
  }
}

/** A block whose last BN feeds the residual addition (zero-initialised by zeroInitResidual). */
export interface ResidualBlock {
  readonly plain: boolean;
  lastBatchNorm(): BatchNorm2d;
}
function isResidualBlock(m: Module): m is Module & ResidualBlock {
  return typeof (m as Partial<ResidualBlock>).lastBatchNorm === 'function';
}

/** torchvision's initialisation: Kaiming normal (fan out, ReLU) convs, BN weight 1 / bias 0. */
export function initialiseResNet(model: Module, zeroInitResidual: boolean): void {
  for (const m of model.modules()) {
    if (m instanceof Conv2d) kaimingNormal(m.weight, { mode: 'fanOut', nonlinearity: 'relu' });
    else if (m instanceof BatchNorm2d && m.weight && m.bias) {
      ones(m.weight);
      zeros(m.bias);
    }
  }
  if (zeroInitResidual) {
    for (const m of model.modules()) {
      if (isResidualBlock(m) && !m.plain) {
        const bn = m.lastBatchNorm();
        if (bn.weight) zeros(bn.weight);
      }
    }
  }
}

type Factory = (options?: ResNetOptions) => ResNet;
export const resnet18: Factory = (o) => new ResNet(BasicBlock, [2, 2, 2, 2], o);
export const resnet34: Factory = (o) => new ResNet(BasicBlock, [3, 4, 6, 3], o);
export const resnet50: Factory = (o) => new ResNet(Bottleneck, [3, 4, 6, 3], o);
export const resnet101: Factory = (o) => new ResNet(Bottleneck, [3, 4, 23, 3], o);
export const resnet152: Factory = (o) => new ResNet(Bottleneck, [3, 8, 36, 3], o);
/** The paper's plain 18- and 34-layer nets: the same stacks without any shortcut. */
export const plain18: Factory = (o) => new ResNet(BasicBlock, [2, 2, 2, 2], { ...o, plain: true });
export const plain34: Factory = (o) => new ResNet(BasicBlock, [3, 4, 6, 3], { ...o, plain: true });
