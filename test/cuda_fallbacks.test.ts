// The GPU ops' fallbacks and the loader's refusals, proven without waiting for a cuDNN that declines:
//   - on the GPU, a test-only hook (forceCudnnStatus) makes cudnnAddTensor,
//     cudnnConvolutionBackwardBias and cudnnConvolutionBiasActivationForward return a status, and
//     each op must then fall back to the project's kernels and agree with the CPU (or, for a status
//     that is no decline, throw naming the call); convBiasAct without z must not read a recycled
//     block's NaN;
//   - everywhere the addon has its CUDA part: the hook's argument errors, the libraries' reasons in
//     one sentence with the places looked in as a list, and a stand-in libcudnn.so.9 (built here
//     from cudnn_api.h's X-macros) that reports a cuDNN built for CUDA 12 is refused with a reason
//     that says so, while the same stand-in for this runtime's CUDA major loads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as rn from '../lib/index.js';
import { native } from '../lib/binding.js';
import { announceSkip, compareOnDevices, expectCuda, param, runCuda } from './helpers/cuda.js';

const cuda = rn.backends().cuda;
announceSkip('CUDA fallback tests');

const NOT_SUPPORTED = 3000, NOT_SUPPORTED_DATA_TYPE = 3003, BAD_PARAM = 2000, INTERNAL_ERROR = 4000;
type Site = 'addTensor' | 'backwardBias' | 'biasActivation';
const force = (site: Site, status: number): void => native.forceCudnnStatus(site, status);

afterEach(() => {
  if (!cuda.compiled) return;
  for (const site of ['addTensor', 'backwardBias', 'biasActivation'] as const) force(site, 0);
});

describe.skipIf(!runCuda)('GPU fallbacks when cuDNN declines (forced statuses)', () => {
  for (const dtype of ['bfloat16', 'float16'] as const) {
    it(`conv2d's bias in ${dtype}: cudnnAddTensor NOT_SUPPORTED -> the project's kernels`, () => {
      expectCuda();
      force('addTensor', NOT_SUPPORTED);
      const x = param([2, 8, 9, 9], { memoryFormat: 'channelsLast' }), w = param([12, 8, 3, 3]), b = param([12]);
      compareOnDevices(`conv2d ${dtype} bias fallback`, { x, w, b },
        (t) => rn.autocast({ dtype }, () => rn.conv2d(t.x!, t.w!, t.b!, { padding: 1 })), { tolerance: 2e-2 });
    });
    it(`conv2d's dbias in ${dtype}: cudnnConvolutionBackwardBias NOT_SUPPORTED_DATA_TYPE -> the project's reduction`, () => {
      expectCuda();
      force('backwardBias', NOT_SUPPORTED_DATA_TYPE);
      const x = param([2, 8, 9, 9]), w = param([12, 8, 3, 3]), b = param([12]);
      compareOnDevices(`conv2d ${dtype} dbias fallback`, { x, w, b },
        (t) => rn.autocast({ dtype }, () => rn.conv2d(t.x!, t.w!, t.b!, { stride: 2, padding: 1 })), { tolerance: 2e-2 });
    });
  }
  it('float32 conv2d with bias: the kernels\' sum matches cuDNN\'s within float32 rounding', () => {
    expectCuda();
    force('addTensor', NOT_SUPPORTED);
    const x = param([2, 8, 9, 9]), w = param([12, 8, 3, 3]), b = param([12]);
    compareOnDevices('conv2d float32 bias fallback', { x, w, b }, (t) => rn.conv2d(t.x!, t.w!, t.b!, { padding: 1 }));
  });
  for (const status of [BAD_PARAM, NOT_SUPPORTED]) {
    for (const withZ of [false, true]) {
      it(`convBiasAct float16 ${withZ ? 'with' : 'without'} z: status ${status} -> the composition`, () => {
        expectCuda();
        force('biasActivation', status);
        const x = param([2, 8, 9, 9], { memoryFormat: 'channelsLast', requiresGrad: false });
        const w = param([8, 8, 3, 3], { memoryFormat: 'channelsLast', requiresGrad: false });
        const b = param([8], { requiresGrad: false });
        const z = param([2, 8, 9, 9], { memoryFormat: 'channelsLast', requiresGrad: false });
        compareOnDevices(`convBiasAct fallback ${status}`, withZ ? { x, w, b, z } : { x, w, b },
          (t) => rn.noGrad(() => rn.autocast({ dtype: 'float16' }, () =>
            rn.convBiasAct(t.x!, t.w!, t.b!, t.z ?? null, { padding: 1, relu: true }))),
          { forwardOnly: true, tolerance: 5e-3 });
      });
    }
  }
  it('a status that is no decline (INTERNAL_ERROR) throws, naming the call and the status', () => {
    expectCuda();
    force('addTensor', INTERNAL_ERROR);
    rn.scope(() => {
      const x = rn.randn([1, 2, 4, 4], { device: 'cuda' }), w = rn.randn([3, 2, 1, 1], { device: 'cuda' });
      const b = rn.randn([3], { device: 'cuda' });
      expect(() => rn.conv2d(x, w, b)).toThrow(/cudnnAddTensor failed: CUDNN_STATUS_INTERNAL_ERROR/);
    });
  });
  it('a cuBLAS call from a worker thread throws instead of racing the thread that owns the handles', async () => {
    expectCuda();
    rn.scope(() => void rn.matmul(rn.randn([2, 2], { device: 'cuda' }), rn.randn([2, 2], { device: 'cuda' })));
    const { Worker } = await import('node:worker_threads');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const native = require('node-gyp-build')(${JSON.stringify(process.cwd())});
      try {
        const a = native.full([2, 2], 1, 'float32', 'cuda');
        native.matmul(a, a, false, false);
        parentPort.postMessage('no error');
      } catch (err) {
        parentPort.postMessage(String(err.message));
      }`;
    const message = await new Promise<string>((resolve, reject) => {
      const worker = new Worker(code, { eval: true });
      worker.once('message', (m: string) => { resolve(m); void worker.terminate(); });
      worker.once('error', reject);
    });
    expect(message).toMatch(/cuBLAS was called from a thread other than the one that made the first GPU call/);
  });

  it('convBiasAct without z reads no recycled NaN (y, standing in for z, is zeroed)', () => {
    expectCuda();
    rn.scope(() => {
      const shape = [2, 16, 8, 8];
      // Blocks of y's size, filled with NaN and freed: the caching allocator hands them out next, to
      // the inputs' copies and to y (32 of them, more than the call takes before y).
      const poisoned = Array.from({ length: 32 }, () =>
        rn.noGrad(() => rn.full(shape, Number.NaN).to({ device: 'cuda', dtype: 'float16', memoryFormat: 'channelsLast' })));
      for (const t of poisoned) t.dispose();
      const x = rn.randn([2, 16, 8, 8]), w = rn.randn([16, 16, 3, 3]), b = rn.randn([16]);
      const run = (device: 'cpu' | 'cuda', t: rn.Tensor[]) => rn.noGrad(() => rn.autocast({ dtype: 'float16' }, () =>
        rn.convBiasAct(t[0]!.to({ device, memoryFormat: 'channelsLast' }), t[1]!.to({ device, memoryFormat: 'channelsLast' }),
          t[2]!.to(device), null, { padding: 1, relu: false })));
      const gpu = Array.from(run('cuda', [x, w, b]).toArray() as Float32Array);
      const cpu = Array.from(run('cpu', [x, w, b]).toArray() as Float32Array);
      expect(gpu.every(Number.isFinite)).toBe(true);
      const diff = Math.sqrt(gpu.reduce((s, v, i) => s + (v - cpu[i]!) ** 2, 0) / cpu.reduce((s, v) => s + v * v, 0));
      expect(diff).toBeLessThan(5e-3);
    });
  });
});

describe.skipIf(!cuda.compiled)('the fallback hook and the libraries\' reasons (CPU-runnable)', () => {
  it('forceCudnnStatus names its sites and refuses others', () => {
    expect(() => force('convolution' as Site, NOT_SUPPORTED)).toThrow(TypeError);
    expect(() => force('convolution' as Site, NOT_SUPPORTED)).toThrow(/unknown site 'convolution' \(addTensor, backwardBias or biasActivation\)/);
    expect(() => force('addTensor', -1)).toThrow(RangeError);
    force('addTensor', NOT_SUPPORTED);
    force('addTensor', 0);
  });

  it('a library that is not loaded has a one-sentence reason and the places looked in as a list', () => {
    for (const lib of [cuda.cudnn!, cuda.cublas!]) {
      expect(Array.isArray(lib.searched)).toBe(true);
      expect(lib.searched.length).toBeGreaterThan(0);
      if (lib.loaded) continue;
      expect(lib.searched.some((place) => place.startsWith('the loader path ('))).toBe(true);
      expect(lib.reason!.length).toBeLessThan(400);
      expect(lib.reason).toMatch(new RegExp(`in the ${lib.searched.length} places looked in \\(listed in searched`));
      expect(lib.reason).not.toMatch(/site-packages|dist-packages/);
    }
    if (!cuda.available) expect(cuda.reason!.length).toBeLessThan(400);
  });
});

// A stand-in libcudnn.so.9: every function of cudnn_api.h, doing nothing, with cudnnGetVersion 9.10.2
// and cudnnGetCudartVersion `cudart`. Built with the C++ compiler against the CUDA toolkit's headers.
const cudaInclude = ['/usr/local/cuda/include', process.env.CUDA_INCLUDE_DIR ?? ''].find((d) => d && existsSync(join(d, 'cuda_runtime_api.h')));
const STAND_IN = `#include <cstring>
#include <type_traits>
#include "cudnn_api.h"
using namespace cr::dnn;
template <typename R> R result(const char* name) {
  if constexpr (std::is_void_v<R>) { (void)name; return; }
  else if constexpr (std::is_same_v<R, size_t>) {
    return std::strcmp(name, "cudnnGetVersion") == 0 ? 91002 : std::strcmp(name, "cudnnGetCudartVersion") == 0 ? CUDART : 0;
  } else { (void)name; return R(); }
}
extern "C" {
#define STAND_IN(ret, name, params, args) ret name params { return result<ret>(#name); }
CR_CUDNN_FUNCTIONS(STAND_IN)
}
`;

describe.skipIf(!cuda.compiled || !cudaInclude)('a cuDNN built for another CUDA major is refused, saying what was found', () => {
  const reportWith = (cudart: number): { cudnn: { loaded: boolean; reason?: string; version?: string; path?: string; builtForCuda?: string }; runtime: number } => {
    const dir = mkdtempSync(join(tmpdir(), 'stand-in-cudnn-'));
    try {
      writeFileSync(join(dir, 'stand_in.cc'), STAND_IN);
      const cxx = process.env.CXX ?? 'g++';
      const build = spawnSync(cxx, ['-std=c++17', '-shared', '-fPIC', `-DCUDART=${cudart}`, '-Inative/cuda', `-I${cudaInclude}`,
        '-w', join(dir, 'stand_in.cc'), '-o', join(dir, 'libcudnn.so.9')], { encoding: 'utf8' });
      expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
      const probe = spawnSync(process.execPath, ['-e',
        "const c = require('node-gyp-build')('.').backends().cuda; console.log(JSON.stringify({ cudnn: c.cudnn, runtime: c.runtimeVersion }))"],
      { encoding: 'utf8', env: { ...process.env, CUDNN_RESNET_CUDNN_PATH: dir } });
      expect(probe.status, probe.stderr).toBe(0);
      return JSON.parse(probe.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('cudnnGetCudartVersion 12.8 next to the CUDA 13 runtime: not loaded, and the reason names both', () => {
    const { cudnn, runtime } = reportWith(12080);
    expect(Math.floor(runtime / 1000)).not.toBe(12);
    expect(cudnn.loaded).toBe(false);
    expect(cudnn.reason).toMatch(/cuDNN 9\.10\.2 at \S+libcudnn\.so\.9 is built for CUDA 12\.8, but this addon runs the CUDA \d+\.\d runtime/);
    expect(cudnn.reason).toMatch(/nvidia-cudnn-cu\d+/);
  });

  it('the same stand-in built for this runtime\'s CUDA major loads', () => {
    const { cudnn, runtime } = reportWith(Math.floor(cuda.runtimeVersion / 1000) * 1000);
    expect(runtime).toBeGreaterThan(0);
    expect(cudnn.loaded, cudnn.reason).toBe(true);
    expect(cudnn.version).toBe('9.10.2');
    expect(cudnn.path).toMatch(/libcudnn\.so\.9$/);
    expect(cudnn.builtForCuda).toBe(`${Math.floor(cuda.runtimeVersion / 1000)}.0`);
  });
});
