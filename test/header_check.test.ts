// The header check (native/cuda/header_check.cc, run by scripts/gpu/header-check.sh) compiled
// against stand-ins shaped like NVIDIA's headers (test/fixtures/nvidia_headers/README.md): cuBLAS's
// C++ overload of cublasGemmEx must not break it, and a wrong signature or value must fail it.
// Runs on every machine with a C++ compiler; NVIDIA's own headers are checked on GPU machines.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const FIXTURE = 'test/fixtures/nvidia_headers';
const CXX = process.env.CXX ?? 'g++';

function compile(defines: string[]): { status: number | null; output: string } {
  const r = spawnSync(CXX, ['-std=c++17', '-fsyntax-only', ...defines.map((d) => `-D${d}`), `-I${FIXTURE}`,
    'native/cuda/header_check.cc'], { encoding: 'utf8' });
  if (r.error) throw new Error(`${CXX} could not be run: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('header check against stand-ins of the real headers', () => {
  it('passes through scripts/gpu/header-check.sh, counting every kind of check', () => {
    const env = { ...process.env, CUDNN_INCLUDE_DIR: FIXTURE, CUBLAS_INCLUDE_DIR: FIXTURE, CUDA_INCLUDE_DIR: FIXTURE, CXX };
    const r = spawnSync('bash', ['scripts/gpu/header-check.sh'], { encoding: 'utf8', env });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    const m = /header check: OK \((\d+) values checked, (\d+) layout facts, (\d+) function signatures\)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [values, layouts, signatures] = m!.slice(1).map(Number);
    expect(values).toBeGreaterThan(200);
    expect(layouts).toBeGreaterThan(50);
    expect(signatures).toBeGreaterThan(60);
  });

  it('fails when only the C++ wrapper cublasGemmEx(..., cudaDataType computeType, ...) is declared', () => {
    const r = compile(['CR_FIXTURE_WRAPPER_ONLY']);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/header check signature: cublasGemmEx/);
  });

  it('fails on an enumerator whose value differs', () => {
    const r = compile(['CR_FIXTURE_WRONG_VALUE']);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/header check value: CUBLAS_COMPUTE_32F/);
  });
});
