// CUDA device detection. Runs where a GPU is present; elsewhere it is skipped with the reason
// the addon gives, and with CUDNN_RESNET_REQUIRE_CUDA=1 (GPU machines) a missing GPU fails it.
import { describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';

const cuda = rn.backends().cuda;
const required = process.env.CUDNN_RESNET_REQUIRE_CUDA === '1';
if (!cuda.available && !required) console.log(`CUDA tests skipped: ${cuda.reason}`);

describe('CUDA device detection', () => {
  it('says why CUDA is unavailable, in a sentence', () => {
    if (cuda.available) expect(cuda.reason).toBeUndefined();
    else expect(cuda.reason).toMatch(/\w{3,}/);
  });

  it.skipIf(!cuda.available && !required)('lists the devices with their compute capability and memory', () => {
    expect(cuda.available, `CUDNN_RESNET_REQUIRE_CUDA=1 but CUDA is unavailable: ${cuda.reason}`).toBe(true);
    expect(cuda.compiled).toBe(true);
    expect(cuda.driverVersion).toBeGreaterThan(0);
    expect(cuda.devices.length).toBeGreaterThan(0);
    for (const d of cuda.devices) {
      expect(d.name).toMatch(/\w/);
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(d.totalMemory).toBeGreaterThan(2 ** 30);
    }
  });

  it.skipIf(!cuda.compiled)('reports cuDNN and cuBLAS: where they were loaded from, or why not', () => {
    for (const lib of [cuda.cudnn!, cuda.cublas!]) {
      if (lib.loaded) {
        expect(lib.path).toMatch(/lib(cudnn|cublas)/);
        expect(lib.version).toMatch(/^\d+\.\d+\.\d+$/);
      } else {
        expect(lib.reason).toMatch(/lib(cudnn|cublas)\.so/);
      }
    }
    const b = rn.backends().cuda;
    expect(b.cudnnVersion).toBe(cuda.cudnn!.loaded ? cuda.cudnn!.version : null);
  });
});
