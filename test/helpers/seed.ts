// Run before every test file (vitest.config.ts: setupFiles): seeds the global generator, so a
// file's random tensors are the same on every run and a failure can be reproduced. The seed is
// CUDNN_RESNET_TEST_SEED when set (to try a file under other draws), 20151210 otherwise.
import * as rn from '../../lib/index.js';

const given = process.env.CUDNN_RESNET_TEST_SEED;
if (given !== undefined && !/^\d+$/.test(given)) throw new TypeError(`CUDNN_RESNET_TEST_SEED must be a non-negative integer, got '${given}'`);
rn.manualSeed(given === undefined ? 20151210n : BigInt(given));
