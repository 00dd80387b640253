// The native backends are siblings: native/cuda/ and native/ops/ include nothing from native/cpu/,
// and each op family's kernel signatures are declared once (native/ops/<family>_ops.inc), included
// into cr by cpu/<family>.h and into cr::cuda by cuda/ops.h.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const sources = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? sources(path) : /\.(h|cc|cu|cuh|inc)$/.test(name) ? [path] : [];
});

describe('native layout', () => {
  it('cuda/ and ops/ take nothing from cpu/', () => {
    const offending = [...sources(join(root, 'cuda')), ...sources(join(root, 'ops'))]
      .filter((path) => /#include "(\.\.\/)+cpu\//.test(readFileSync(path, 'utf8')));
    expect(offending).toEqual([]);
  });

  it('every op family is declared once, for the CPU and for CUDA', () => {
    const families = readdirSync(join(root, 'ops')).filter((f) => f.endsWith('_ops.inc')).map((f) => f.replace('_ops.inc', ''));
    expect(families.length).toBeGreaterThan(5);
    const cudaOps = readFileSync(join(root, 'cuda', 'ops.h'), 'utf8');
    for (const family of families) {
      expect(readFileSync(join(root, 'cpu', `${family}.h`), 'utf8'), family).toContain(`#include "../ops/${family}_ops.inc"`);
      expect(cudaOps, family).toContain(`#include "../ops/${family}_ops.inc"`);
    }
  });
});
