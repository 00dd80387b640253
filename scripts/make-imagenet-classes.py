# Writes lib/vision/imagenet_classes.ts: the 1000 ImageNet class names in torchvision's order
# (the index of each name is the logit it labels in torchvision's ImageNet weights). Regenerate,
# from the repository root, with Debian's python3-torchvision (not the pyenv python3 on PATH):
#
#   /usr/bin/python3 scripts/make-imagenet-classes.py
import json
import os

import torchvision
from torchvision.models._meta import _IMAGENET_CATEGORIES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib', 'vision', 'imagenet_classes.ts')

assert len(_IMAGENET_CATEGORIES) == 1000
lines = [
    '// The 1000 ImageNet class names in the order of torchvision\'s ImageNet weights (index = logit).',
    f'// Generated from torchvision {torchvision.__version__} (torchvision.models._meta._IMAGENET_CATEGORIES) by',
    '//   /usr/bin/python3 scripts/make-imagenet-classes.py',
    'export const imagenetClasses: readonly string[] = Object.freeze([',
]
lines += [f'  {json.dumps(name)},' for name in _IMAGENET_CATEGORIES]
lines.append(']);')
with open(OUT, 'w') as f:
    f.write('\n'.join(lines) + '\n')
print(f'wrote {OUT}')
