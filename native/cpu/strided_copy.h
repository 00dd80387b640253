// out[i] = in[i * stride]: a row of im2col for a strided convolution (the 7x7/2 stem reads every
// other float of each input row). Stride 2 has AVX-512 and AVX2 kernels (the even lanes of two
// input vectors), chosen by cpuIsa(); other strides, and the portable ISA, a plain loop. Never reads
// past in[(n - 1) * stride].
#pragma once
#include <cstdint>

namespace cr {

void copyStrided(const float* in, int64_t stride, float* out, int64_t n);  // in: ((n - 1) * stride + 1), out: (n)

// copyStrided on `rows` rows, the kernel chosen once: out[r * outRowStride + i] =
// in[r * inRowStride + i * stride] (a block of im2col rows: a 3x3/2 convolution at 28x28 output
// makes rows of 28 floats, where choosing the kernel per row cost as much as the copy).
void copyStridedRows(const float* in, int64_t stride, int64_t inRowStride, float* out, int64_t outRowStride,
                     int64_t n, int64_t rows);  // in: rows of ((n - 1) * stride + 1), out: (rows, n)

}  // namespace cr
