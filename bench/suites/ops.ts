// ops: single operators at ResNet-50 sizes.
//   - conv2d forward, and backward (input and weight gradients, the forward excluded), on the
//     convolutions of ResNet-50's four stages at batch 8 (56x56, 28x28, 14x14, 7x7): per stage
//     the 1x1 reduction (4C -> C), the 3x3 (C -> C) and the 1x1 expansion (C -> 4C);
//   - batch norm in training mode, forward + backward, on (8, 256, 56, 56);
//   - GEMM 2048^3 through rn.matmul with the built-in kernel and with OpenBLAS (peer: torch.mm).
import * as rn from '../../lib/index.js';
import type { Runner, Workload } from '../harness.js';
import { timed, type Suite } from './suite.js';

const BATCH = 8;
const STAGES = [
  { c: 64, hw: 56 },
  { c: 128, hw: 28 },
  { c: 256, hw: 14 },
  { c: 512, hw: 7 },
];

function clearGrads(...ts: rn.Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

function convWorkload(pass: 'fwd' | 'bwd', c: number, k: number, r: number, hw: number): Workload {
  const pad = r === 3 ? 1 : 0;
  const spec = { kind: 'conv' as const, pass, n: BATCH, c, h: hw, w: hw, k, r, stride: 1, pad };
  return {
    name: `conv ${r}x${r} ${c}->${k} ${hw}x${hw} ${pass}`,
    spec,
    peers: ['torch'],
    ours(): Runner {
      const grad = pass === 'bwd';
      const x = rn.randn([BATCH, c, hw, hw], { requiresGrad: grad });
      const w = rn.scope(() => rn.keep(rn.scale(rn.randn([k, c, r, r]), 0.05)));
      w.requiresGrad = grad;
      const opts = { stride: 1, padding: pad };
      if (!grad) {
        return {
          run: () => timed(() => rn.scope(() => { rn.conv2d(x, w, null, opts); })),
          dispose: () => { x.dispose(); w.dispose(); },
        };
      }
      const y = rn.conv2d(x, w, null, opts);
      const g = rn.randn(y.shape);
      return {
        run: () => timed(() => rn.scope(() => {
          y.backward(g, { retainGraph: true });
          clearGrads(x, w);
        })),
        dispose: () => { for (const t of [y, g, x, w]) t.dispose(); },
      };
    },
  };
}

function bnWorkload(): Workload {
  const [n, c, h, w] = [BATCH, 256, 56, 56];
  return {
    name: `batchnorm train fwd+bwd ${n}x${c}x${h}x${w}`,
    spec: { kind: 'bn', n, c, h, w },
    peers: ['torch'],
    ours(): Runner {
      const x = rn.randn([n, c, h, w], { requiresGrad: true });
      const weight = rn.ones([c], { requiresGrad: true });
      const bias = rn.zeros([c], { requiresGrad: true });
      const rm = rn.zeros([c]);
      const rv = rn.ones([c]);
      const g = rn.randn([n, c, h, w]);
      return {
        run: () => timed(() => rn.scope(() => {
          const y = rn.batchNorm2d(x, rm, rv, weight, bias, { training: true, momentum: 0.1, eps: 1e-5 });
          y.backward(g);
          clearGrads(x, weight, bias);
        })),
        dispose: () => { for (const t of [x, weight, bias, rm, rv, g]) t.dispose(); },
      };
    },
  };
}

function gemmWorkload(backend: 'builtin' | 'openblas'): Workload {
  const size = 2048;
  return {
    name: `gemm ${size}^3 (ours: ${backend})`,
    spec: { kind: 'gemm', m: size, n: size, k: size },
    peers: ['torch'],
    ours(): Runner {
      const before = rn.backends().cpu.gemm;
      if (backend === 'openblas' && !rn.backends().cpu.openblas.available) {
        throw new Error(`OpenBLAS is not available (${rn.backends().cpu.openblas.info || 'libopenblas.so.0 not found'})`);
      }
      const a = rn.randn([size, size]);
      const b = rn.randn([size, size]);
      return {
        run: () => {
          rn.setGemmBackend(backend);
          return timed(() => rn.scope(() => { rn.matmul(a, b); }));
        },
        dispose: () => { rn.setGemmBackend(before); a.dispose(); b.dispose(); },
      };
    },
  };
}

export const ops: Suite = {
  name: 'ops',
  description: "conv2d fwd/bwd on ResNet-50's stage shapes (batch 8), batch norm train fwd+bwd, GEMM 2048^3",
  defaultRuns: 10,
  peers: ['torch'],
  workloads() {
    const list: Workload[] = [];
    for (const { c, hw } of STAGES) {
      const shapes: [number, number, number][] = [[4 * c, c, 1], [c, c, 3], [c, 4 * c, 1]];
      for (const [cin, cout, r] of shapes) {
        for (const pass of ['fwd', 'bwd'] as const) list.push(convWorkload(pass, cin, cout, r, hw));
      }
    }
    list.push(bnWorkload(), gemmWorkload('builtin'), gemmWorkload('openblas'));
    return list;
  },
};
