#!/usr/bin/env node
// Installs the packed package as a user would, on a PATH with no compiler, CMake, make or
// Python (only sh, node and npm), into fresh ESM projects, and runs it: the prebuilt binary must
// load (node-gyp-build finds it in prebuilds/) and compute. Twice: with the install script run
// (npm's default for a dependency not in allowScripts: it finds the prebuild and stops) and with
// no script run at all (--ignore-scripts: what a denial in allowScripts does).
//   node scripts/check-packed-install.mjs     (run by .ci/run after `npm run prebuild`)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'cudnn-resnet-packed-'));

function run(cmd, args, options = {}) {
  console.log(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.status !== 0) {
    console.error(`cudnn-resnet: ${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}); left ${work} for a look`);
    process.exit(1);
  }
}

try {
  run('npm', ['pack', '--pack-destination', work], { cwd: root });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  // A PATH holding node and npm only: no cc, c++, cmake, make, python or nvcc to build with.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  symlinkSync('/bin/sh', join(bin, 'sh'));
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(npm, join(bin, 'npm'));
  const env = { ...process.env, PATH: bin, npm_config_node_gyp: '' };
  for (const tool of ['cc', 'c++', 'g++', 'cmake', 'make', 'python3', 'nvcc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status === 0) throw new Error(`${tool} is still on the PATH`);
  }
  const check = `
import { createRequire } from 'node:module';
import * as rn from 'cudnn-resnet';
const require = createRequire(import.meta.url);
const path = require('node-gyp-build').resolve(require.resolve('cudnn-resnet/package.json').replace(/package\\.json$/, ''));
if (!path.includes('prebuilds')) throw new Error('not the prebuilt binary: ' + path);
const model = rn.models.cifarResNet({ depth: 8 }).eval();
const logits = rn.noGrad(() => model.forward(rn.randn([2, 3, 32, 32])));
const values = logits.toArray('float32');
if (logits.shape.join() !== '2,10' || !values.every(Number.isFinite)) throw new Error('bad logits');
console.log('packed install ok:', path, JSON.stringify({ cudaCompiled: rn.backends().cuda.compiled, logits: logits.shape }));
`;
  for (const [name, flags] of [['script-run', []], ['no-scripts', ['--ignore-scripts']]]) {
    const app = join(work, name);
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
    run('npm', ['install', '--no-audit', '--no-fund', ...flags, join(work, tarball)], { cwd: app, env });
    writeFileSync(join(app, 'check.mjs'), check);
    run(process.execPath, ['check.mjs'], { cwd: app, env });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
