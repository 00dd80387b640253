// Run in a child process by gemm.test.ts with CUDNN_RESNET_CPU_ISA / CUDNN_RESNET_GEMM set:
// prints the backend it got and the products of fixed seeded matrices as JSON.
import * as rn from '../../lib/index.js';

rn.manualSeed(5);
const sizes: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [65, 33, 130], [200, 129, 300]];
const results = sizes.map(([m, k, n]) =>
  rn.scope(() => Array.from(rn.matmul(rn.randn([m, k]), rn.randn([k, n])).toArray() as Float32Array)),
);
console.log(JSON.stringify({ backend: rn.backends().cpu, results }));
