// AVX-512 input, gradient and output transforms of Winograd F(2x2, 3x3) (winograd.h), used by
// winograd.cc when the instruction set in force is AVX-512 (cpu_features.h); never call them
// otherwise. They work on whole parts of one image plane at a time: the tiles r0 <= r < r1
// (r = th * tW + tw) are 16 per vector whatever the tile-row width, so small images (CIFAR's 8x8
// and 16x16 planes, ResNet's 7x7: 4 and 8 tiles a row) fill the vectors as well as large ones.
//   Input side (tile rows of 8, 4, 2 or 1 tiles, the part whole tile rows): the plane rows a part
//   reads are copied once, zero-padded, into a row buffer; a vector's 16 tiles span 2 to 16 tile
//   rows, and for each patch row the columns k = 0, 1 (and 2, 3) of the 16 tiles are 32 floats,
//   each tile row's stretch put in its lanes by a masked load, then deinterleaved.
//   Output side: the 2x2 outputs of 16 tiles are interleaved into the 32 floats of two output
//   rows, then stored with masks, one masked store pair per tile row they touch (winograd.cc uses
//   it for tile rows of 4 or fewer tiles).
#pragma once
#include <cstdint>

namespace cr {
namespace winograd {

// Floats of the buffer transformPlaneAvx512 needs for a part of up to `tiles` tiles, tW a row.
int64_t planeBufferFloatsAvx512(int64_t tiles, int64_t tW);

// Whether transformPlaneAvx512 takes the part r0 <= r < r1 (tW tiles a row): whole tile rows of
// 8, 4, 2 or 1 tiles for the input transform, 4, 2 or 1 for the gradient transform. Elsewhere (wide
// rows) the AVX2 transforms measured faster: 512-bit loads from unaligned columns cost more than
// they save there, but with bf16Pairs (the results rounded and paired, autocast bfloat16) rows
// of 8 tiles for the gradient transform and of 16 tiles (one a vector) for both are taken too:
// pairing in registers saves a pass over the results.
bool transformPlaneAvx512Fits(int patch, int64_t tW, int64_t r0, int64_t r1, bool bf16Pairs = false);

// patch 4: input transform of the tiles r0 <= r < r1 of plane (rows, cols), tile (th, tw) reading
// rows 2th - padH .. + 3 and columns 2tw - padW .. + 3 (zero outside the plane). patch 2: the
// filter gradient's transform Z = A dY A^T of dy's plane (rows, cols), tile (th, tw) reading rows
// 2th, 2th + 1 and columns 2tw, 2tw + 1 (pads ignored). Writes dst[xi * xiStride + r - r0] for
// xi < 16 and nothing else; transformPlaneAvx512Fits(patch, tW, r0, r1) must hold; buf holds planeBufferFloatsAvx512(r1 - r0, tW) floats.
// With tilePairs (autocast bfloat16's filter gradient; r0 even) it writes instead the values
// rounded to bfloat16 and paired tile with tile, dst[xi * xiStride + (r - r0) / 2] holding tiles r
// and r + 1 (r - r0 even; zero past r1) in its low and high halves.
void transformPlaneAvx512(int patch, const float* plane, int64_t rows, int64_t cols, int64_t padH, int64_t padW,
                          int64_t tW, int64_t r0, int64_t r1, float* dst, int64_t xiStride, float* buf,
                          bool tilePairs = false);

// The input transform (patch 4) of the same tiles of two planes lo and hi (two neighbouring
// channels; hi null reads as zero) rounded to bfloat16 and paired channel with channel:
// dst[xi * xiStride + r - r0] holds lo's value in its low half and hi's in its high half (the
// operand rows of winograd_bf16.h's products). buf holds 2 * planeBufferFloatsAvx512(r1 - r0, tW).
void inputTransformChannelPairAvx512(const float* lo, const float* hi, int64_t rows, int64_t cols, int64_t padH,
                                     int64_t padW, int64_t tW, int64_t r0, int64_t r1, float* dst, int64_t xiStride,
                                     float* buf);

// Output transform of the tiles r0 <= r < r1 of one output plane y (Ho, Wo) + bias, from
// m[xi * xiStride + r - r0]: writes y's rows 2th, 2th + 1 (those < Ho) at columns 2tw, 2tw + 1
// (those < Wo) of each tile and nothing else; with round, y's values rounded to bfloat16.
void outputTransformPlaneAvx512(const float* m, int64_t xiStride, int64_t r0, int64_t r1, int64_t tW, float bias,
                                float* y, int64_t Ho, int64_t Wo, bool round = false);

}  // namespace winograd
}  // namespace cr
