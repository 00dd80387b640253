// out[i] = in[i * stride]: a row of im2col for a strided convolution (the 7x7/2 stem reads every
// other float of each input row). Stride 2 has AVX-512 and AVX2 kernels (the even lanes of two
// input vectors), chosen by cpuIsa(); other strides, and the portable ISA, a plain loop. Never reads
// past in[(n - 1) * stride].
#pragma once
#include <cstdint>

namespace cr {

void copyStrided(const float* in, int64_t stride, float* out, int64_t n);  // in: ((n - 1) * stride + 1), out: (n)

}  // namespace cr
