// The hot loops of batch normalisation's passes (native/cpu/batchnorm.cc), one set per instruction
// set: portable (SSE2 on x86-64, scalar elsewhere; the oracle), AVX2 and AVX-512, chosen by cpuIsa().
// Every set does the same float / double operations in the same order, so all give the same bits:
// no fused multiply-add (it rounds differently), per-channel sums in double, and for a run of one
// channel element i goes to lane i % 8 of the eight partial sums (the tail, len % 8, to lane 0).
// Runs are len elements of one channel (a plane of an (N, C, H, W) tensor); rows are `rows` rows of
// C channels (channels-last or (N, C) data), visited in order for every channel.
//
// g, the gradient the backward kernels read, is dy[i], or with relu given (the forward output of a
// ReLU tail) dy[i] where relu[i] > 0 and +0 elsewhere. store, when given, receives g.
#pragma once
#include <cstdint>

namespace cr {

struct BatchNormKernels {
  // s0[lane] += d, s1[lane] += d * d with d = x - shift.  x (len), s0 s1 (8)
  void (*runStats)(const float* x, int64_t len, double shift, double* s0, double* s1);
  // p0[c] += d, p1[c] += d * d with d = x[r][c] - shift[c].  x (rows, C), shift p0 p1 (C)
  void (*rowStats)(const float* x, int64_t rows, int64_t C, const double* shift, double* p0, double* p1);
  // s0[lane] += g, s1[lane] += g * (x - mean).  dy relu x store (len), s0 s1 (8)
  void (*runSums)(const float* dy, const float* relu, const float* x, float* store, int64_t len, double mean,
                  double* s0, double* s1);
  // p0[c] += g, p1[c] += g * (x - mean[c]).  dy relu x store (rows, C), mean p0 p1 (C)
  void (*rowSums)(const float* dy, const float* relu, const float* x, float* store, int64_t rows, int64_t C,
                  const double* mean, double* p0, double* p1);
  // dx = (g - meanGrad - (x - mean) * xCoef) * gain.  dy relu x dx (len)
  void (*gradRun)(const float* dy, const float* relu, const float* x, float* dx, int64_t len, float mean,
                  float meanGrad, float xCoef, float gain);
  // The same per channel.  dy relu x dx (rows, C), mean meanGrad xCoef gain (C)
  void (*gradRows)(const float* dy, const float* relu, const float* x, float* dx, int64_t rows, int64_t C,
                   const float* mean, const float* meanGrad, const float* xCoef, const float* gain);
  // y = (x - mean) * scale + shift, + residual when given, then max(y, 0) when relu (NaN passes
  // through, as torch.relu).  x residual y (len)
  void (*normaliseRun)(const float* x, const float* residual, float* y, int64_t len, float mean, float scale,
                       float shift, bool relu);
  // The same per channel.  x residual y (rows, C), mean scale shift (C)
  void (*normaliseRows)(const float* x, const float* residual, float* y, int64_t rows, int64_t C, const float* mean,
                        const float* scale, const float* shift, bool relu);
};

// The scalar forms of g and of y that the vector sets' tails use (the same values as the portable set).
inline float gradOne(const float* dy, const float* relu, int64_t i) {
  return relu == nullptr || relu[i] > 0.0f ? dy[i] : 0.0f;
}
inline float normaliseOne(float x, const float* residual, int64_t i, float mean, float scale, float shift, bool relu) {
  float v = (x - mean) * scale + shift;
  if (residual != nullptr) v += residual[i];
  if (relu) v = v < 0.0f ? 0.0f : v;
  return v;
}

// The set for cpuIsa() now.
const BatchNormKernels& batchNormKernels();

// Each set (the x86 ones exist on x86-64 builds only; batchNormKernels never hands out one the CPU
// cannot run).
const BatchNormKernels& batchNormKernelsPortable();
const BatchNormKernels& batchNormKernelsAvx2();
const BatchNormKernels& batchNormKernelsAvx512();

}  // namespace cr
