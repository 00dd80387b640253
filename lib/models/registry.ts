// Model names as the command line and checkpoints spell them:
//   resnet18 resnet34 resnet50 resnet101 resnet152 plain18 plain34 densenet121  (ImageNet layout)
//   cifar-resnet<6n+2>  (20, 32, 44, 56, 110, 1202 ...)  cifar-plain<6n+2>       (CIFAR layout)
//   cifar-highway<6n+2>  cifar-densenet<6n+4> (DenseNet-BC, k = 12: 40, 100 ...)
//   cifar-preact<6n+2 or 9n+2> (pre-activation; basic blocks up to 110 layers, bottlenecks beyond: 164, 1001)
import type { Module } from '../nn/module.js';
import { cifarResNet, type ShortcutOption } from './cifar.js';
import { densenet, densenet121 } from './densenet.js';
import { highway } from './highway.js';
import { preactResNet } from './preact.js';
import { plain18, plain34, resnet101, resnet152, resnet18, resnet34, resnet50 } from './resnet.js';

export interface ModelSpec {
  name: string;
  numClasses: number;
  inChannels: number;
  /** cifar-resnet and cifar-plain nets only (default 'A'). */
  shortcut?: ShortcutOption;
}

const IMAGENET = { resnet18, resnet34, resnet50, resnet101, resnet152, plain18, plain34, densenet121 } as const;

export const MODEL_NAMES = [...Object.keys(IMAGENET), 'cifar-resnet20', 'cifar-resnet32', 'cifar-resnet44', 'cifar-resnet56',
  'cifar-resnet110', 'cifar-resnet1202', 'cifar-plain20', 'cifar-plain32', 'cifar-plain44', 'cifar-plain56',
  'cifar-highway20', 'cifar-highway56', 'cifar-densenet40', 'cifar-densenet100', 'cifar-preact110', 'cifar-preact164', 'cifar-preact1001'];

/** What the depth of each CIFAR family may be, for error messages and help. */
export const CIFAR_DEPTHS = 'cifar-resnet, -plain and -highway take any depth 6n + 2, cifar-densenet 6n + 4, cifar-preact 6n + 2 or 9n + 2';

const CIFAR_NAME = /^cifar-(resnet|plain|highway|densenet|preact)(\d+)$/;

/** True for the CIFAR-layout nets (32x32 inputs, 3x3 stem). */
export function isCifarModel(name: string): boolean {
  return CIFAR_NAME.test(name);
}

export function createModel(spec: ModelSpec): Module {
  const { name, numClasses, inChannels } = spec;
  if (name in IMAGENET) {
    if (name === 'densenet121' && spec.shortcut !== undefined) {
      throw new RangeError('densenet121: a DenseNet has no shortcuts to choose; --shortcut applies to the cifar-resnet and cifar-plain nets');
    }
    if (spec.shortcut !== undefined && spec.shortcut !== 'B') {
      throw new RangeError(`${name}: the ImageNet ResNets use projection shortcuts (option B); --shortcut applies to the cifar-resnet and cifar-plain nets`);
    }
    return IMAGENET[name as keyof typeof IMAGENET]({ numClasses, inChannels });
  }
  const match = CIFAR_NAME.exec(name);
  if (!match) throw new RangeError(`unknown model '${name}'; known: ${MODEL_NAMES.join(', ')} (${CIFAR_DEPTHS})`);
  const family = match[1]!;
  const depth = Number(match[2]);
  if (family === 'resnet' || family === 'plain') {
    return cifarResNet({ depth, plain: family === 'plain', shortcut: spec.shortcut ?? 'A', numClasses, inChannels });
  }
  if (spec.shortcut !== undefined) {
    throw new RangeError(`${name}: --shortcut applies to the cifar-resnet and cifar-plain nets; drop it for cifar-${family} nets`);
  }
  if (family === 'highway') return highway({ depth, numClasses, inChannels });
  if (family === 'densenet') return densenet({ depth, numClasses, inChannels });
  return preactResNet({ depth, numClasses, inChannels });
}
