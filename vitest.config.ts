import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// The op tests run once more under each other instruction set this CPU runs (the default run
// uses the best one, or the one CUDNN_RESNET_CPU_ISA forces), so that every ISA's kernels meet the
// references, finite differences and PyTorch fixtures; test/cpu_isa.test.ts compares them with
// the portable kernels directly. The dispatch, not this list, keeps an ISA off a CPU without it.
const OP_TESTS = [
  'test/gemm.test.ts', 'test/ops_forward.test.ts', 'test/ops_gradients.test.ts', 'test/pytorch_parity.test.ts',
  'test/winograd.test.ts', 'test/conv_epilogue.test.ts', 'test/bn_relu.test.ts', 'test/conv_bn_stats.test.ts',
  'test/amp.test.ts',
  'test/conv_forward_threads.test.ts', 'test/conv_backward_threads.test.ts',
];

function otherIsas(): string[] {
  try {
    const require = createRequire(import.meta.url);
    const addon = (require('node-gyp-build') as (dir: string) => { backends(): { cpu: { isa: string; isasAvailable: string[] } } })(import.meta.dirname);
    const { isa, isasAvailable } = addon.backends().cpu;
    return isasAvailable.filter((i) => i !== isa);
  } catch {
    return [];  // no addon yet: the default project reports why
  }
}

export default defineConfig({
  test: {
    // The addon's thread pool already uses every core; run test files one at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file starts from the same seed (CUDNN_RESNET_TEST_SEED to change it): reproducible draws.
    setupFiles: ['test/helpers/seed.ts'],
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      ...otherIsas().map((isa) => ({
        extends: true as const,
        test: { name: `isa-${isa}`, include: OP_TESTS, env: { CUDNN_RESNET_CPU_ISA: isa } },
      })),
    ],
  },
});
