// gpu: a stub. The GPU benchmarks belong to the CUDA work (device tensors, cuDNN / cuBLAS ops);
// this only says whether CUDA is available here, and why not.
import * as rn from '../../lib/index.js';
import type { Suite } from './suite.js';

export const gpu: Suite = {
  name: 'gpu',
  description: 'stub: the GPU suite belongs to the CUDA work; reports whether CUDA is available',
  defaultRuns: 0,
  peers: [],
  workloads: () => [],
  standalone() {
    const cuda = rn.backends().cuda;
    console.log('The GPU suite belongs to the CUDA work (cuDNN / cuBLAS ops); it has no workloads yet.');
    if (cuda.available) {
      const devices = cuda.devices.map((d) => `${d.name} (sm_${d.computeCapability.replace('.', '')})`).join(', ');
      console.log(`CUDA available: yes — ${devices}`);
    } else {
      console.log(`CUDA available: no — ${cuda.reason ?? 'no reason given'} (addon built ${cuda.compiled ? 'with' : 'without'} its CUDA part)`);
    }
  },
};
