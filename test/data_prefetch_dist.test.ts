// The prefetch worker also starts from compiled JavaScript (as in dist/): prefetch.ts,
// prefetch_worker.ts and assemble.ts are transpiled to .js in a temp folder and driven from a
// plain node process without tsx.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';
import { removeDir, tempDir } from './helpers/data_files.js';
import { runNode } from './helpers/run_node.js';

const dir = tempDir('dist-worker');
afterAll(() => removeDir(dir));

const DRIVER = `
import { PrefetchWorker } from './prefetch.js';
import { assembleBatch } from './assemble.js';
const shape = [3, 4, 4];
const images = new Uint8Array(new SharedArrayBuffer(5 * 48));
images.forEach((_, i) => { images[i] = (i * 37) % 256; });
const affine = { scale: Float64Array.of(1 / 255, 2 / 255, 3 / 255), bias: Float64Array.of(0, -1, 0.5) };
const request = { indices: Int32Array.of(4, 0, 2), shiftY: Int32Array.of(1, -2, 0), shiftX: Int32Array.of(0, 3, -1), flip: Uint8Array.of(1, 0, 1) };
const worker = new PrefetchWorker(images, shape, affine);
const got = await worker.request(request);
const expected = new Float32Array(3 * 48);
assembleBatch(images, shape, affine, request, expected);
console.log(JSON.stringify({ equal: got.every((v, i) => v === expected[i]), length: got.length, progress: worker.progress[0] }));
await worker.terminate();
`;

it('starts prefetch_worker.js next to a compiled prefetch.js and assembles the same batch', async () => {
  for (const name of ['prefetch', 'prefetch_worker', 'assemble']) {
    const source = readFileSync(new URL(`../lib/data/${name}.ts`, import.meta.url), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(dir, `${name}.js`), outputText);
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  writeFileSync(join(dir, 'driver.js'), DRIVER);
  const run = await runNode([join(dir, 'driver.js')], { tsx: false, timeoutMs: 60_000, env: { ...process.env, NODE_OPTIONS: '' } });
  expect(run.stderr).toBe('');
  expect(JSON.parse(run.stdout)).toEqual({ equal: true, length: 144, progress: 1 });
});
