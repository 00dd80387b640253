#!/usr/bin/env node
// Stands in for node-gyp when prebuildify makes the prebuilt binary (`npm run prebuild`), so
// that the prebuild comes from the build of record (CMake, CUDA part included when nvcc is
// found) rather than the CPU-only binding.gyp. prebuildify's node-gyp arguments do not apply
// to a Node-API build and are ignored.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'build-native.mjs');
const env = { ...process.env, CUDNN_RESNET_BUILD: 'cmake' };
const r = spawnSync(process.execPath, [script, '--force'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
