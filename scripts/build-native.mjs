#!/usr/bin/env node
// Builds the native addon. Run by `npm install` (and `npm run build:native`).
//   1. Unless --force: if a prebuilt binary for this platform loads, use it and stop.
//   2. With CMake on PATH (and CUDNN_RESNET_BUILD != 'gyp'): cmake-js, the build of record
//      (CUDA part included when nvcc is found; CUDNN_RESNET_CUDA=0 switches it off).
//   3. Otherwise node-gyp with binding.gyp (CPU only).
// Compiles with every core (CUDNN_RESNET_BUILD_JOBS=N to use N).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');

function run(cmd, args) {
  console.log(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function prebuildLoads() {
  try {
    const path = require('node-gyp-build').resolve(root);
    if (!path.includes('prebuilds')) return false;
    require(path);
    console.log(`cudnn-resnet: using the prebuilt binary ${path}`);
    return true;
  } catch {
    return false;
  }
}

function hasCmake() {
  const r = spawnSync('cmake', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

if (!force && prebuildLoads()) process.exit(0);

function buildJobs() {
  const requested = process.env.CUDNN_RESNET_BUILD_JOBS;
  if (requested === undefined || requested === '') return availableParallelism();
  const jobs = Number(requested);
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`cudnn-resnet: CUDNN_RESNET_BUILD_JOBS must be a positive integer, got '${requested}'`);
    process.exit(1);
  }
  return jobs;
}

const jobs = buildJobs();
const mode = process.env.CUDNN_RESNET_BUILD ?? (hasCmake() ? 'cmake' : 'gyp');
let status;
if (mode === 'cmake') {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const cuda = process.env.CUDNN_RESNET_CUDA === '0' ? 'OFF' : 'ON';
  status = run(process.execPath, [cmakeJs, 'compile', `--CDCUDNN_RESNET_CUDA=${cuda}`, '--parallel', String(jobs)]);
} else if (mode === 'gyp') {
  // npm ships node-gyp and names it in npm_config_node_gyp while it runs scripts.
  const nodeGyp = process.env.npm_config_node_gyp;
  const args = ['rebuild', `--jobs=${jobs}`];
  status = nodeGyp ? run(process.execPath, [nodeGyp, ...args]) : run('node-gyp', args);
} else {
  console.error(`cudnn-resnet: CUDNN_RESNET_BUILD must be 'cmake' or 'gyp', got '${mode}'`);
  status = 1;
}
process.exit(status);
