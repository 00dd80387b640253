#!/usr/bin/env node
// Run by `npm pack` / `npm publish` (prepack): the package ships the prebuilt binary of this
// platform in prebuilds/, so that `npm install` needs no compiler where one fits. Makes it with
// `npm run prebuild` when it is missing, then checks that it loads and, where nvcc exists, that
// its CUDA part is compiled in.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build');

function prebuildPath() {
  try {
    const path = nodeGypBuild.resolve(root);
    return path.includes(`${join(root, 'prebuilds')}`) ? path : null;
  } catch {
    return null;
  }
}

if (prebuildPath() === null) {
  console.log(`cudnn-resnet: no prebuilt binary for ${process.platform}-${process.arch} in prebuilds/; making it (npm run prebuild)`);
  const r = spawnSync('npm', ['run', 'prebuild'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const path = prebuildPath();
if (path === null) {
  console.error('cudnn-resnet: npm run prebuild made no binary that node-gyp-build finds in prebuilds/');
  process.exit(1);
}
const cuda = require(path).backends().cuda;
const nvcc = existsSync('/usr/local/cuda/bin/nvcc') || spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;
if (nvcc && !cuda.compiled) {
  console.error(`cudnn-resnet: ${path} has no CUDA part although nvcc is installed; rebuild it (rm -rf prebuilds && npm run prebuild)`);
  process.exit(1);
}
console.log(`cudnn-resnet: shipping ${path} (CUDA part ${cuda.compiled ? 'compiled in' : 'absent: no nvcc at build time'})`);
