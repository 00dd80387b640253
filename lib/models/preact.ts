// Pre-activation ResNets for CIFAR (He, Zhang, Ren and Sun, 2016, "Identity Mappings in Deep
// Residual Networks"): every residual branch starts with BN and ReLU (BN-ReLU-conv ordering) and
// nothing follows the addition, so the identity path from block to block stays clean. A 3x3 stem
// conv with 16 filters (no BN or ReLU: the first block's pre-activation follows it), three stages
// with 16, 32 and 64 filters (stride 2 between stages), a final BN-ReLU, global average pooling,
// a fc layer. Where the shape changes, the shortcut is a 1x1 conv (no BN) applied, as in the
// paper's code, to the block's pre-activated input, which the branch shares.
//   basic blocks (two 3x3 convs), depth 6n + 2: 20, 56, 110 ...
//   bottleneck blocks (1x1, 3x3, 1x1 x4 convs; stride on the 3x3), depth 9n + 2: 164, 1001 ...
// A depth that is both 6n + 2 and 9n + 2 (20, 38, 56, 110, 164 ...) gets basic blocks up to 110
// layers and bottleneck blocks beyond (so 110 is basic, 164 bottleneck, as in the paper).
import { add, relu } from '../ops/elementwise.js';
import { flatten } from '../ops/shape.js';
import { scope } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, Sequential, applyInOrder, type Layer } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { cifarStages } from './cifar.js';
import { initialiseResNet } from './resnet.js';

export type PreActBlockKind = 'basic' | 'bottleneck';

export interface PreActResNetOptions {
  /** 6n + 2 (basic blocks: 20, 56, 110 ...) or 9n + 2 (bottleneck blocks: 164, 1001 ...). */
  depth: number;
  numClasses?: number;
  inChannels?: number;
}

/** The block kind a depth implies; basic when it fits both forms and is at most 110. */
export function preActBlockKind(depth: number): PreActBlockKind {
  const basic = Number.isInteger(depth) && depth >= 8 && (depth - 2) % 6 === 0;
  const bottleneck = Number.isInteger(depth) && depth >= 11 && (depth - 2) % 9 === 0;
  if (basic && (!bottleneck || depth <= 110)) return 'basic';
  if (bottleneck) return 'bottleneck';
  throw new RangeError(`preactResNet: depth must be 6n + 2 (basic blocks: 20, 56, 110 ...) or 9n + 2 (bottleneck blocks: 164, 1001 ...), got ${depth}`);
}

/**
 * x + branch(x), branch = (BN-ReLU-conv) x2 (basic) or x3 (bottleneck: 1x1, 3x3, 1x1 with
 * 4x the planes out); where the shape changes, downsample(relu(bn1(x))) replaces x.
 */
export class PreActBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn3: BatchNorm2d | null;
  readonly conv3: Conv2d | null;
  readonly downsample: Conv2d | null;
  /** relu(bn1(x)), shared by the branch and a projecting shortcut. */
  readonly #preActivation: Layer[];
  /** The branch after its pre-activation: conv1, then (BN-ReLU-conv) once or twice. */
  readonly #rest: Layer[];

  constructor(kind: PreActBlockKind, inPlanes: number, planes: number, stride: number) {
    super();
    const outPlanes = kind === 'basic' ? planes : planes * 4;
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.conv1 = this.registerModule('conv1', kind === 'basic'
      ? new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false })
      : new Conv2d(inPlanes, planes, 1, { bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', kind === 'basic'
      ? new Conv2d(planes, planes, 3, { padding: 1, bias: false })
      : new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn3 = kind === 'basic' ? null : this.registerModule('bn3', new BatchNorm2d(planes));
    this.conv3 = kind === 'basic' ? null : this.registerModule('conv3', new Conv2d(planes, outPlanes, 1, { bias: false }));
    this.downsample = stride !== 1 || inPlanes !== outPlanes
      ? this.registerModule('downsample', new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false }))
      : null;
    this.#preActivation = [this.bn1, relu];
    this.#rest = [this.conv1, this.bn2, relu, this.conv2, ...(this.bn3 && this.conv3 ? [this.bn3, relu, this.conv3] : [])];
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const activated = applyInOrder(x, this.#preActivation);       // relu(bn1(x)): (N, inPlanes, H, W)
      const residual = applyInOrder(activated, this.#rest);         // (N, outPlanes, H / s, W / s)
      return add(residual, this.downsample ? this.downsample.forward(activated) : x);
    });
  }
}

export class PreActResNet extends Module {
  readonly depth: number;
  readonly blockKind: PreActBlockKind;
  readonly conv1: Conv2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  /** The final BN before the last ReLU and the pooling. */
  readonly bn: BatchNorm2d;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  constructor(options: PreActResNetOptions) {
    super();
    const known = ['depth', 'numClasses', 'inChannels'];
    for (const key of Object.keys(options ?? {})) {
      if (!known.includes(key)) throw new TypeError(`preactResNet: unknown option '${key}' (known: ${known.join(', ')})`);
    }
    const { depth, numClasses = 10, inChannels = 3 } = options ?? ({} as PreActResNetOptions);
    const kind = preActBlockKind(depth);
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`preactResNet: numClasses must be a positive integer, got ${numClasses}`);
    this.depth = depth;
    this.blockKind = kind;
    const n = kind === 'basic' ? (depth - 2) / 6 : (depth - 2) / 9;
    const expansion = kind === 'basic' ? 1 : 4;
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, 16, 3, { padding: 1, bias: false }));
    const { stages: [first, second, third], outPlanes } = cifarStages(n, (inPlanes, planes, stride) => new PreActBlock(kind, inPlanes, planes, stride), expansion);
    this.layer1 = this.registerModule('layer1', first);
    this.layer2 = this.registerModule('layer2', second);
    this.layer3 = this.registerModule('layer3', third);
    this.bn = this.registerModule('bn', new BatchNorm2d(outPlanes));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new Linear(outPlanes, numClasses));
    initialiseResNet(this, false);
  }

  forward(x: Tensor): Tensor {
    return applyInOrder(x, [this.conv1, this.layer1, this.layer2, this.layer3, this.bn, relu, this.avgpool,
      (t) => flatten(t, 1), this.fc]);
  }
}

export function preactResNet(options: PreActResNetOptions): PreActResNet {
  return new PreActResNet(options);
}
