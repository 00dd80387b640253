#include "pool.h"

#include <cstdint>
#include <limits>

#include "../core/error.h"

namespace cr {
namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

int64_t pooledSize(int64_t inSize, int64_t kernel, int64_t stride, int64_t pad, bool ceilMode) {
  int64_t outSize = floorDiv(inSize + 2 * pad - kernel + (ceilMode ? stride - 1 : 0), stride) + 1;
  // In ceil mode the last window must start inside the input or its left padding.
  if (ceilMode && (outSize - 1) * stride >= inSize + pad) --outSize;
  return outSize;
}

const char* deviceName(Device device) { return device == Device::CPU ? "the CPU" : "the GPU"; }

// dy float32 on `device`, 4-D with xShape's batch and channels (xShape itself a pooling shape).
void checkPlanesGradient(const char* op, Device device, const Tensor& dy, const Shape& xShape) {
  checkPoolShape(op, "xShape", xShape);
  expectFloat32On(device, op, "dy", dy);
  expectDim(op, "dy", dy, 4);
  CR_CHECK_RANGE(dy.shape[0] == xShape[0] && dy.shape[1] == xShape[1], op, ": dy shape ", shapeString(dy.shape),
                 " does not match the batch and channels of xShape ", shapeString(xShape));
}

}  // namespace

void checkPoolShape(const char* op, const char* name, const Shape& x) {
  CR_CHECK_RANGE(x.size() == 4, op, ": ", name, " must be (N, C, H, W), got shape ", shapeString(x));
  CR_CHECK_RANGE(x[0] >= 0 && x[1] > 0 && x[2] > 0 && x[3] > 0, op, ": ", name,
                 " must have non-zero channels, height and width, got shape ", shapeString(x));
  CR_CHECK_RANGE(x[2] * x[3] <= std::numeric_limits<int32_t>::max(), op, ": ", name,
                 " has an H*W plane too large for int32 indices, got shape ", shapeString(x));
}

void checkPoolInput(const char* op, Device device, const Tensor& x) {
  expectFloat32On(device, op, "x", x);
  checkPoolShape(op, "x", x.shape);
}

Shape pooledShape(const char* op, const Shape& x, const Pool2dParams& p) {
  checkPoolShape(op, "the input", x);
  CR_CHECK_RANGE(p.kernelH > 0 && p.kernelW > 0, op, ": kernel size must be positive, got ", p.kernelH, "x",
                 p.kernelW);
  CR_CHECK_RANGE(p.strideH > 0 && p.strideW > 0, op, ": stride must be positive, got ", p.strideH, "x", p.strideW);
  CR_CHECK_RANGE(p.padH >= 0 && p.padW >= 0, op, ": padding must be non-negative, got ", p.padH, "x", p.padW);
  CR_CHECK_RANGE(p.padH <= p.kernelH / 2 && p.padW <= p.kernelW / 2, op,
                 ": padding must be at most half the kernel size, got padding ", p.padH, "x", p.padW, " for kernel ",
                 p.kernelH, "x", p.kernelW);
  const int64_t outH = pooledSize(x[2], p.kernelH, p.strideH, p.padH, p.ceilMode);
  const int64_t outW = pooledSize(x[3], p.kernelW, p.strideW, p.padW, p.ceilMode);
  CR_CHECK_RANGE(outH > 0 && outW > 0, op, ": output is empty (", outH, "x", outW, ") for input ", shapeString(x),
                 ", kernel ", p.kernelH, "x", p.kernelW, ", stride ", p.strideH, "x", p.strideW, ", padding ", p.padH,
                 "x", p.padW);
  return {x[0], x[1], outH, outW};
}

Shape pool2dOutputShape(const Shape& x, const Pool2dParams& p) { return pooledShape("pool2d", x, p); }

Shape checkPool2d(const char* op, Device device, const Tensor& x, const Pool2dParams& p) {
  checkPoolInput(op, device, x);
  return pooledShape(op, x.shape, p);
}

void checkMaxPool2dBackward(Device device, const Tensor& dy, const Tensor& argmax, const Shape& xShape) {
  const char* op = "maxPool2dBackward";
  checkPlanesGradient(op, device, dy, xShape);
  CR_CHECK_TYPE(argmax.dtype == DType::Int32, op, ": argmax must be int32, got ", dtypeName(argmax.dtype));
  CR_CHECK_TYPE(argmax.device == device, op, ": argmax must be on ", deviceName(device));
  expectShape(op, "argmax", argmax, dy.shape);
}

Shape checkAvgPool2dBackward(Device device, const Tensor& dy, const Shape& xShape, const Pool2dParams& p) {
  const char* op = "avgPool2dBackward";
  const Shape outShape = pooledShape(op, xShape, p);
  expectFloat32On(device, op, "dy", dy);
  expectShape(op, "dy", dy, outShape);
  return outShape;
}

void checkAdaptiveAvgPool2d(Device device, const Tensor& x, int64_t outH, int64_t outW) {
  const char* op = "adaptiveAvgPool2d";
  checkPoolInput(op, device, x);
  CR_CHECK_RANGE(outH > 0 && outW > 0, op, ": output size must be positive, got ", outH, "x", outW);
}

void checkAdaptiveAvgPool2dBackward(Device device, const Tensor& dy, const Shape& xShape) {
  const char* op = "adaptiveAvgPool2dBackward";
  checkPoolShape(op, "xShape", xShape);
  expectFloat32On(device, op, "dy", dy);
  checkPoolShape(op, "dy", dy.shape);
  CR_CHECK_RANGE(dy.shape[0] == xShape[0] && dy.shape[1] == xShape[1], op, ": dy shape ", shapeString(dy.shape),
                 " does not match the batch and channels of xShape ", shapeString(xShape));
}

}  // namespace cr
