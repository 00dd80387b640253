// The CUDA part's memory policies (native/cuda/memory_policy.h: the upload staging slots' cap,
// the pool a freed block joins) checked on the CPU by test/native/memory_policy_test.cc, built
// here with the C++ compiler: it simulates 200,000 uploads of mixed sizes with slots busy and idle.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('staging slots stay within their cap and a freed block joins the right pool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memory-policy-'));
  try {
    const binary = join(dir, 'memory_policy_test');
    const cxx = process.env.CXX ?? 'g++';
    const build = spawnSync(cxx, ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', 'test/native/memory_policy_test.cc', '-o', binary], { encoding: 'utf8' });
    expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
    const run = spawnSync(binary, [], { encoding: 'utf8' });
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^ok \d{6,}/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
