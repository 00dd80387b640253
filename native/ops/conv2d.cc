#include "conv2d.h"

#include "../core/error.h"

namespace cr {

Shape conv2dOutputShape(const Shape& x, const Shape& w, const Conv2dParams& p, const char* op) {
  CR_CHECK_RANGE(x.size() == 4, op, ": x must be 4-D (N, C, H, W), got shape ", shapeString(x));
  CR_CHECK_RANGE(w.size() == 4, op, ": weight must be 4-D (O, C / groups, kH, kW), got shape ", shapeString(w));
  CR_CHECK_RANGE(p.strideH >= 1 && p.strideW >= 1, op, ": stride must be positive, got (", p.strideH, ", ",
                 p.strideW, ")");
  CR_CHECK_RANGE(p.padH >= 0 && p.padW >= 0, op, ": padding must be non-negative, got (", p.padH, ", ", p.padW,
                 ")");
  CR_CHECK_RANGE(p.dilationH >= 1 && p.dilationW >= 1, op, ": dilation must be positive, got (", p.dilationH,
                 ", ", p.dilationW, ")");
  CR_CHECK_RANGE(p.groups >= 1, op, ": groups must be at least 1, got ", p.groups);
  struct { int64_t N, C, H, W, O, kH, kW, groups, Cg, Ho, Wo; } g{};
  g.N = x[0], g.C = x[1], g.H = x[2], g.W = x[3];
  g.O = w[0], g.kH = w[2], g.kW = w[3];
  g.groups = p.groups;
  CR_CHECK_RANGE(g.C % g.groups == 0, op, ": x's channel count ", g.C, " is not divisible by groups = ", g.groups);
  CR_CHECK_RANGE(g.O % g.groups == 0, op, ": weight's output channel count ", g.O,
                 " is not divisible by groups = ", g.groups);
  g.Cg = g.C / g.groups;
  CR_CHECK_RANGE(w[1] == g.Cg, op, ": weight must have C / groups = ", g.Cg, " input channels, got shape ",
                 shapeString(w), " for x of shape ", shapeString(x), " and groups = ", g.groups);
  CR_CHECK_RANGE(g.kH >= 1 && g.kW >= 1, op, ": the kernel size must be positive, got weight of shape ",
                 shapeString(w));
  int64_t extentH = p.dilationH * (g.kH - 1) + 1, extentW = p.dilationW * (g.kW - 1) + 1;
  CR_CHECK_RANGE(g.H + 2 * p.padH >= extentH, op, ": the output would be empty: the padded input height ",
                 g.H + 2 * p.padH, " is smaller than the dilated kernel height ", extentH, ".");
  CR_CHECK_RANGE(g.W + 2 * p.padW >= extentW, op, ": the output would be empty: the padded input width ",
                 g.W + 2 * p.padW, " is smaller than the dilated kernel width ", extentW, ".");
  g.Ho = (g.H + 2 * p.padH - extentH) / p.strideH + 1;
  g.Wo = (g.W + 2 * p.padW - extentW) / p.strideW + 1;
  return {g.N, g.O, g.Ho, g.Wo};
}

}  // namespace cr
