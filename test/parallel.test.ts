// The CPU thread pool (native/core/parallel.cc) under many short jobs in a row: every chunk runs
// exactly once and no call waits forever. The program is compiled with the machine's C++
// compiler (skipped, with the reason, where there is none) and run with a time limit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers/run_node.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiler = spawnSync('c++', ['--version']).status === 0 ? 'c++' : null;
if (!compiler) console.log('parallel pool stress test skipped: no C++ compiler (c++) on PATH');

describe.skipIf(!compiler)('parallelFor', () => {
  it('runs each chunk once through 1,000,000 back-to-back jobs, none waiting forever', async () => {
    const exe = join(mkdtempSync(join(tmpdir(), 'cr-parallel-')), 'parallel_stress');
    const build = spawnSync(compiler!, ['-std=c++17', '-O2', '-pthread', `-I${join(root, 'native')}`,
      join(root, 'test/native/parallel_stress.cc'), join(root, 'native/core/parallel.cc'), '-o', exe], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    // runNode spawns node; run the program through it so the worker's event loop stays free.
    const r = await runNode(['-e', `const r = require('node:child_process').spawnSync(${JSON.stringify(exe)}, { encoding: 'utf8', timeout: 60000 });
      process.stdout.write(r.stdout ?? ''); process.exit(r.status ?? 124);`], { tsx: false, timeoutMs: 90_000 });
    expect(r.status, `${r.stdout}${r.stderr} (124: it hung)`).toBe(0);
    expect(r.stdout).toMatch(/^ok \d+/);
  });
});
