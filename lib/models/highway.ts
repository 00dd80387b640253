// Highway networks (Srivastava, Greff and Schmidhuber, 2015) in the CIFAR ResNet layout. Each
// block mixes a transformed path and its carried input through a learned transform gate:
//   y = T(x) · F(x) + (1 − T(x)) · x,    T(x) = sigmoid(conv3x3(x) + b_T)
// where F is the CIFAR basic block's branch (conv-BN-ReLU-conv-BN, then ReLU). The gate bias
// starts negative (default −2: T ≈ 0.12), so every block begins close to carrying its input.
// Where dimensions change, x is carried through a 1x1 projection (conv + BN) and the gate mixes
// against the projected x. Depth 6n + 2: a 3x3 stem with 16 filters, three stages of n blocks
// with 16, 32 and 64 filters (stride 2 between stages), global average pooling, a fc layer.
import { add, mul, sigmoid, sub } from '../ops/elementwise.js';
import { scope } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { constant } from '../nn/init.js';
import { BatchNorm2d, Conv2d, ConvBn, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { CifarNet } from './cifar.js';
import { initialiseResNet } from './resnet.js';

export interface HighwayOptions {
  /** 6n + 2: 20, 32, 44, 56, 110 ... */
  depth: number;
  /** Initial bias of every transform gate (default −2; negative starts the blocks near the identity). */
  gateBias?: number;
  numClasses?: number;
  inChannels?: number;
}

/** y = T · F(x) + (1 − T) · x', with x' = x or its projection where the shape changes. */
export class HighwayBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  /** The transform gate's 3x3 convolution, with bias. */
  readonly gate: Conv2d;
  readonly downsample: Sequential | null;
  readonly #convBn1: ConvBn;
  readonly #convBn2: ConvBn;

  constructor(inPlanes: number, planes: number, stride: number, gateBias: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.gate = this.registerModule('gate', new Conv2d(inPlanes, planes, 3, { stride, padding: 1 }));
    constant(this.gate.bias!, gateBias);
    this.downsample = stride !== 1 || inPlanes !== planes
      ? this.registerModule('downsample', new Sequential(new Conv2d(inPlanes, planes, 1, { stride, bias: false }), new BatchNorm2d(planes)))
      : null;
    this.#convBn1 = new ConvBn(this, this.conv1, this.bn1);
    this.#convBn2 = new ConvBn(this, this.conv2, this.bn2);
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const transformed = this.#convBn2.forwardRelu(this.#convBn1.forwardRelu(x));  // F(x): (N, planes, H / s, W / s)
      const gate = sigmoid(this.gate.forward(x));                                    // T(x), same shape, in (0, 1)
      const carried = this.downsample ? this.downsample.forward(x) : x;              // x'
      // T · F + (1 − T) · x' written as x' + T · (F − x'): one multiplication fewer.
      return add(carried, mul(gate, sub(transformed, carried)));
    });
  }
}

export class HighwayNet extends CifarNet {
  constructor(options: HighwayOptions) {
    const known = ['depth', 'gateBias', 'numClasses', 'inChannels'];
    for (const key of Object.keys(options ?? {})) {
      if (!known.includes(key)) throw new TypeError(`highway: unknown option '${key}' (known: ${known.join(', ')})`);
    }
    const { depth, gateBias = -2, numClasses = 10, inChannels = 3 } = options ?? ({} as HighwayOptions);
    if (!Number.isFinite(gateBias)) throw new RangeError(`highway: gateBias must be a finite number (negative starts the blocks near the identity), got ${gateBias}`);
    super('highway', depth, numClasses, inChannels, (inPlanes, planes, stride) => new HighwayBlock(inPlanes, planes, stride, gateBias));
    // Conv weights and BN as the ResNets; the gate biases keep their value.
    initialiseResNet(this, false);
  }
}

export function highway(options: HighwayOptions): HighwayNet {
  return new HighwayNet(options);
}
