#include "conv_bn_stats.h"

#include "../core/error.h"

namespace cr {
namespace {
constexpr const char* kOp = "convBnStats";
}  // namespace

Shape checkConvBnStats(Device device, const Tensor& x, const Tensor& weight, const Tensor* scale, const Tensor* bias,
                       const Conv2dParams& p) {
  const char* where = device == Device::CPU ? " must be on the CPU" : " must be on the GPU";
  CR_CHECK_TYPE(x.device == device, kOp, ": x", where);
  CR_CHECK_TYPE(weight.device == device, kOp, ": weight", where);
  expectDim(kOp, "x", x, 4);
  expectDim(kOp, "weight", weight, 4);
  Shape yShape = conv2dOutputShape(x.shape, weight.shape, p);
  for (const auto& [name, t] : {std::pair{"scale", scale}, std::pair{"bias", bias}}) {
    if (!t) continue;
    expectFloat32On(device, kOp, name, *t);
    expectShape(kOp, name, *t, {x.shape[1]});
  }
  return yShape;
}

}  // namespace cr
