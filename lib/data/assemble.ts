// Batch assembly: gather images, apply each sample's crop shift and flip, normalise to float32.
// Pure and free of project imports, so the prefetch worker runs exactly the code the main
// thread runs, and both paths give bit-identical batches.

/** Per-channel affine map from a byte to a float: value = byte * scale[c] + bias[c]. */
export interface ChannelAffine {
  scale: Float64Array;
  bias: Float64Array;
}

/**
 * What one batch holds, sample by sample (all arrays of length B). A shift (dy, dx) in
 * [-padding, padding] is a crop of the zero-padded image: output pixel (y, x) reads input pixel
 * (y + dy, x + dx), zero outside the image. A flip mirrors the cropped image left-right.
 */
export interface BatchRequest {
  indices: Int32Array;
  shiftY: Int32Array;
  shiftX: Int32Array;
  flip: Uint8Array;
}

/**
 * Writes the batch into `out` (B, C, H, W) float32. `images` is (N, C, H, W) bytes and
 * `shape` is [C, H, W].
 */
export function assembleBatch(images: Uint8Array, shape: readonly [number, number, number], affine: ChannelAffine,
  request: BatchRequest, out: Float32Array): void {
  const [channels, height, width] = shape;
  const size = channels * height * width;
  for (let b = 0; b < request.indices.length; b++) {
    writeSample(images, request.indices[b]! * size, shape, request.shiftY[b]!, request.shiftX[b]!, request.flip[b] === 1, affine, out, b * size);
  }
}

/** One sample: image at `src` in `images` -> normalised float32 at `dst` in `out`. */
export function writeSample(images: Uint8Array, src: number, shape: readonly [number, number, number], dy: number, dx: number,
  flip: boolean, affine: ChannelAffine, out: Float32Array, dst: number): void {
  const [channels, height, width] = shape;
  for (let c = 0; c < channels; c++) {
    const scale = affine.scale[c]!;
    const bias = affine.bias[c]!;
    for (let y = 0; y < height; y++) {
      const sy = y + dy;
      const row = dst + (c * height + y) * width;
      if (sy < 0 || sy >= height) {
        out.fill(bias, row, row + width);
        continue;
      }
      const srcRow = src + (c * height + sy) * width;
      for (let x = 0; x < width; x++) {
        const sx = (flip ? width - 1 - x : x) + dx;
        out[row + x] = sx >= 0 && sx < width ? images[srcRow + sx]! * scale + bias : bias;
      }
    }
  }
}
