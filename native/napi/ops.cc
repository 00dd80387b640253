// One binding function per native op: unwrap the arguments, call the primitive of the device
// the tensors live on, wrap the results. No logic lives here beyond argument conversion and
// that choice.
#include "ops.h"

#include "../cpu/amp.h"
#include "../cpu/batchnorm.h"
#include "../cpu/conv2d.h"
#include "../cpu/conv_bn_stats.h"
#include "../cpu/elementwise.h"
#include "../cpu/loss.h"
#include "../cpu/matmul.h"
#include "../cpu/pool.h"
#include "../cpu/random.h"
#include "../cpu/sgd.h"
#include "../cpu/shape_ops.h"
#include "convert.h"
#include "dispatch.h"
#include "profile.h"
#include "tensor_wrap.h"

namespace cr::napi {
namespace {

using Info = Napi::CallbackInfo;

const Tensor& arg(const Info& info, size_t i, const char* what) { return TensorWrap::Get(info[i], what); }
const Tensor* optArg(const Info& info, size_t i, const char* what) { return TensorWrap::GetOptional(info[i], what); }
Tensor* mutArg(const Info& info, size_t i, const char* what) {
  if (info[i].IsUndefined() || info[i].IsNull()) return nullptr;
  return TensorWrap::GetMutable(info[i], what);
}

// The device of an op's tensors (nullptr entries are absent optional arguments); TypeError when
// they are not all on one device.
Device deviceOf(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (t == nullptr) continue;
    if (first == nullptr) first = t;
    CR_CHECK_TYPE(t->device == first->device, op, ": all tensors must be on one device, got ",
                  first->device == Device::CUDA ? "cuda" : "cpu", " and ", t->device == Device::CUDA ? "cuda" : "cpu");
  }
  return first ? first->device : Device::CPU;
}
Napi::Value wrap(Napi::Env env, const Tensor& t) {
  return t.storage ? TensorWrap::New(env, t).As<Napi::Value>() : env.Null();
}
Napi::Value list(Napi::Env env, std::initializer_list<Tensor> ts) {
  Napi::Array arr = Napi::Array::New(env, ts.size());
  uint32_t i = 0;
  for (const Tensor& t : ts) arr.Set(i++, wrap(env, t));
  return arr;
}
std::vector<bool> flags(const Napi::Value& v, size_t n, const char* what) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != n)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of " + std::to_string(n) + " booleans");
  std::vector<bool> out(n);
  for (uint32_t i = 0; i < n; ++i) out[i] = toBool(v.As<Napi::Array>().Get(i), what);
  return out;
}

// [strideH, strideW, padH, padW, dilationH, dilationW, groups]
Conv2dParams convParams(const Napi::Value& v) {
  auto p = toInt64s(v, "conv2d params");
  if (p.size() != 7) throw Napi::TypeError::New(v.Env(), "conv2d params must hold 7 integers");
  return {p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
}
// [kernelH, kernelW, strideH, strideW, padH, padW], ceilMode, countIncludePad
Pool2dParams poolParams(const Info& info, size_t at) {
  auto p = toInt64s(info[at], "pool params");
  if (p.size() != 6) throw Napi::TypeError::New(info.Env(), "pool params must hold 6 integers");
  Pool2dParams out{p[0], p[1], p[2], p[3], p[4], p[5]};
  out.ceilMode = toBool(info[at + 1], "ceilMode");
  out.countIncludePad = toBool(info[at + 2], "countIncludePad");
  return out;
}
uint64_t seedOf(const Napi::Value& v) {
  if (!v.IsBigInt()) throw Napi::TypeError::New(v.Env(), "seed must be a bigint");
  bool lossless = false;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

Napi::Value Conv2d(const Info& info) {
  return guarded(info, "conv2d", [&]() -> Napi::Value {
    const Tensor &x = arg(info, 0, "input"), &w = arg(info, 1, "weight");
    const Tensor* b = optArg(info, 2, "bias");
    Device d = deviceOf("conv2d", {&x, &w, b});
    return wrap(info.Env(), CR_DISPATCH(d, conv2dForward, x, w, b, convParams(info[3])));
  });
}
Napi::Value Conv2dBackward(const Info& info) {
  return guarded(info, "conv2d_backward", [&]() -> Napi::Value {
    auto need = flags(info[4], 3, "needs");
    const Tensor &dy = arg(info, 0, "grad"), &x = arg(info, 1, "input"), &w = arg(info, 2, "weight");
    Device d = deviceOf("conv2d_backward", {&dy, &x, &w});
    auto g = CR_DISPATCH(d, conv2dBackward, dy, x, w, convParams(info[3]), need[0], need[1], need[2]);
    return list(info.Env(), {g.dx, g.dweight, g.dbias});
  });
}

// convBnStats(x, weight, scale?, bias?, relu, params): [y, sum, sqSum], or the reason (a string) when
// the device cannot run this configuration.
Napi::Value ConvBnStats(const Info& info) {
  return guarded(info, "convBnStats", [&]() -> Napi::Value {
    const Tensor &x = arg(info, 0, "input"), &w = arg(info, 1, "weight");
    const Tensor *scale = optArg(info, 2, "scale"), *bias = optArg(info, 3, "bias");
    Device d = deviceOf("convBnStats", {&x, &w, scale, bias});
    auto r = CR_DISPATCH(d, convBnStatsForward, x, w, scale, bias, toBool(info[4], "relu"), convParams(info[5]));
    if (!r.unsupported.empty()) return Napi::String::New(info.Env(), r.unsupported);
    return list(info.Env(), {r.y, r.sum, r.sqSum});
  });
}
// convBiasAct(x, weight, bias | null, z | null, relu, params): act(conv2d(x, weight) + bias + z), forward only.
Napi::Value ConvBiasAct(const Info& info) {
  return guarded(info, "convBiasAct", [&]() -> Napi::Value {
    const Tensor &x = arg(info, 0, "input"), &w = arg(info, 1, "weight");
    const Tensor *b = optArg(info, 2, "bias"), *z = optArg(info, 3, "z");
    Device d = deviceOf("convBiasAct", {&x, &w, b, z});
    return wrap(info.Env(), CR_DISPATCH(d, convBiasActForward, x, w, b, z, toBool(info[4], "relu"),
                                        convParams(info[5])));
  });
}

Napi::Value BatchNorm(const Info& info) {
  return guarded(info, "batchNorm2d", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    const Tensor *w = optArg(info, 1, "weight"), *b = optArg(info, 2, "bias");
    Tensor *rm = mutArg(info, 3, "runningMean"), *rv = mutArg(info, 4, "runningVar");
    Device d = deviceOf("batchNorm2d", {&x, w, b, rm, rv});
    auto r = CR_DISPATCH(d, batchNormForward, x, w, b, rm, rv, toBool(info[5], "training"),
                         toDouble(info[6], "momentum"), toDouble(info[7], "eps"));
    return list(info.Env(), {r.y, r.saveMean, r.saveInvStd});
  });
}
Napi::Value BatchNormBackward(const Info& info) {
  return guarded(info, "batchNorm2d_backward", [&]() -> Napi::Value {
    auto need = flags(info[6], 3, "needs");
    const Tensor &dy = arg(info, 0, "grad"), &x = arg(info, 1, "input");
    const Tensor* w = optArg(info, 2, "weight");
    const Tensor &mean = arg(info, 3, "saveMean"), &invStd = arg(info, 4, "saveInvStd");
    Device d = deviceOf("batchNorm2d_backward", {&dy, &x, w, &mean, &invStd});
    auto g = CR_DISPATCH(d, batchNormBackward, dy, x, w, mean, invStd, toBool(info[5], "training"), need[0], need[1],
                         need[2]);
    return list(info.Env(), {g.dx, g.dweight, g.dbias});
  });
}
Napi::Value BnAddRelu(const Info& info) {
  return guarded(info, "bnAddRelu", [&]() -> Napi::Value {
    const Tensor &x = arg(info, 0, "input"), &res = arg(info, 1, "residual");
    const Tensor *w = optArg(info, 2, "weight"), *b = optArg(info, 3, "bias");
    Tensor *rm = mutArg(info, 4, "runningMean"), *rv = mutArg(info, 5, "runningVar");
    Device d = deviceOf("bnAddRelu", {&x, &res, w, b, rm, rv});
    auto r = CR_DISPATCH(d, bnAddReluForward, x, res, w, b, rm, rv, toBool(info[6], "training"),
                         toDouble(info[7], "momentum"), toDouble(info[8], "eps"));
    return list(info.Env(), {r.y, r.saveMean, r.saveInvStd});
  });
}
Napi::Value BnAddReluBackward(const Info& info) {
  return guarded(info, "bnAddRelu_backward", [&]() -> Napi::Value {
    auto need = flags(info[7], 4, "needs");
    const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output"), &x = arg(info, 2, "input");
    const Tensor* w = optArg(info, 3, "weight");
    const Tensor &mean = arg(info, 4, "saveMean"), &invStd = arg(info, 5, "saveInvStd");
    Device d = deviceOf("bnAddRelu_backward", {&dy, &y, &x, w, &mean, &invStd});
    auto g = CR_DISPATCH(d, bnAddReluBackward, dy, y, x, w, mean, invStd, toBool(info[6], "training"), need[0],
                         need[1], need[2], need[3]);
    return list(info.Env(), {g.dx, g.dresidual, g.dweight, g.dbias});
  });
}
Napi::Value BnRelu(const Info& info) {
  return guarded(info, "bnRelu", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    const Tensor *w = optArg(info, 1, "weight"), *b = optArg(info, 2, "bias");
    Tensor *rm = mutArg(info, 3, "runningMean"), *rv = mutArg(info, 4, "runningVar");
    Device d = deviceOf("bnRelu", {&x, w, b, rm, rv});
    auto r = CR_DISPATCH(d, bnReluForward, x, w, b, rm, rv, toBool(info[5], "training"),
                         toDouble(info[6], "momentum"), toDouble(info[7], "eps"));
    return list(info.Env(), {r.y, r.saveMean, r.saveInvStd});
  });
}
Napi::Value BnReluBackward(const Info& info) {
  return guarded(info, "bnRelu_backward", [&]() -> Napi::Value {
    auto need = flags(info[7], 3, "needs");
    const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output"), &x = arg(info, 2, "input");
    const Tensor* w = optArg(info, 3, "weight");
    const Tensor &mean = arg(info, 4, "saveMean"), &invStd = arg(info, 5, "saveInvStd");
    Device d = deviceOf("bnRelu_backward", {&dy, &y, &x, w, &mean, &invStd});
    auto g = CR_DISPATCH(d, bnReluBackward, dy, y, x, w, mean, invStd, toBool(info[6], "training"), need[0], need[1],
                         need[2]);
    return list(info.Env(), {g.dx, g.dweight, g.dbias});
  });
}

Napi::Value MaxPool2d(const Info& info) {
  return guarded(info, "maxPool2d", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    auto r = CR_DISPATCH(x.device, maxPool2dForward, x, poolParams(info, 1));
    return list(info.Env(), {r.y, r.argmax});
  });
}
Napi::Value MaxPool2dBackward(const Info& info) {
  return guarded(info, "maxPool2d_backward", [&]() -> Napi::Value {
    const Tensor &dy = arg(info, 0, "grad"), &argmax = arg(info, 1, "argmax");
    Device d = deviceOf("maxPool2d_backward", {&dy, &argmax});
    return wrap(info.Env(), CR_DISPATCH(d, maxPool2dBackward, dy, argmax, toShape(info[2], "input shape")));
  });
}
Napi::Value AvgPool2d(const Info& info) {
  return guarded(info, "avgPool2d", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, avgPool2dForward, x, poolParams(info, 1)));
  });
}
Napi::Value AvgPool2dBackward(const Info& info) {
  return guarded(info, "avgPool2d_backward", [&]() -> Napi::Value {
    const Tensor& dy = arg(info, 0, "grad");
    return wrap(info.Env(),
                CR_DISPATCH(dy.device, avgPool2dBackward, dy, toShape(info[1], "input shape"), poolParams(info, 2)));
  });
}
Napi::Value AdaptiveAvgPool2d(const Info& info) {
  return guarded(info, "adaptiveAvgPool2d", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, adaptiveAvgPool2dForward, x, toInt64(info[1], "outputH"),
                                        toInt64(info[2], "outputW")));
  });
}
Napi::Value AdaptiveAvgPool2dBackward(const Info& info) {
  return guarded(info, "adaptiveAvgPool2d_backward", [&]() -> Napi::Value {
    const Tensor& dy = arg(info, 0, "grad");
    return wrap(info.Env(), CR_DISPATCH(dy.device, adaptiveAvgPool2dBackward, dy, toShape(info[1], "input shape")));
  });
}

Napi::Value Binary(const Info& info) {
  return guarded(info, "binary", [&]() -> Napi::Value {
    int64_t op = toInt64(info[0], "op");
    CR_CHECK_RANGE(op >= 0 && op <= 3, "binary: unknown op ", op);
    const Tensor &a = arg(info, 1, "a"), &b = arg(info, 2, "b");
    Device d = deviceOf("binary", {&a, &b});
    return wrap(info.Env(), CR_DISPATCH(d, binary, static_cast<BinaryOp>(op), a, b));
  });
}
Napi::Value Affine(const Info& info) {
  return guarded(info, "affine", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, affine, x, toDouble(info[1], "scale"), toDouble(info[2], "shift")));
  });
}
Napi::Value Relu(const Info& info) {
  return guarded(info, "relu", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, relu, x));
  });
}
Napi::Value ReluBackward(const Info& info) {
  return guarded(info, "relu_backward", [&]() -> Napi::Value {
    const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output");
    return wrap(info.Env(), CR_DISPATCH(deviceOf("relu_backward", {&dy, &y}), reluBackward, dy, y));
  });
}
Napi::Value Sigmoid(const Info& info) {
  return guarded(info, "sigmoid", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, sigmoid, x));
  });
}
Napi::Value SigmoidBackward(const Info& info) {
  return guarded(info, "sigmoid_backward", [&]() -> Napi::Value {
    const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output");
    return wrap(info.Env(), CR_DISPATCH(deviceOf("sigmoid_backward", {&dy, &y}), sigmoidBackward, dy, y));
  });
}
Napi::Value BroadcastTo(const Info& info) {
  return guarded(info, "broadcastTo", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, broadcastTo, x, toShape(info[1], "shape")));
  });
}
Napi::Value SumTo(const Info& info) {
  return guarded(info, "sumTo", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, sumTo, x, toShape(info[1], "shape")));
  });
}
Napi::Value Sum(const Info& info) {
  return guarded(info, "sum", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(),
                CR_DISPATCH(x.device, reduceSum, x, toInt64s(info[1], "dims"), toBool(info[2], "keepDim")));
  });
}
Napi::Value Full(const Info& info) {
  return guarded(info, "full", [&]() -> Napi::Value {
    return wrap(info.Env(), CR_DISPATCH(deviceArg(info[3]), full, toShape(info[0], "shape"),
                                        toDouble(info[1], "value"), parseDType(toString(info[2], "dtype"))));
  });
}
Napi::Value Increment(const Info& info) {
  return guarded(info, "increment", [&]() -> Napi::Value {
    Tensor* t = TensorWrap::GetMutable(info[0], "counter");
    CR_DISPATCH(t->device, increment, *t);
    return info.Env().Undefined();
  });
}
Napi::Value Concat(const Info& info) {
  return guarded(info, "concat", [&]() -> Napi::Value {
    if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "concat: tensors must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<Tensor> parts;
    for (uint32_t i = 0; i < arr.Length(); ++i) parts.push_back(TensorWrap::Get(arr.Get(i), "concat input"));
    Device d = parts.empty() ? Device::CPU : parts[0].device;
    for (const Tensor& t : parts) deviceOf("concat", {&parts[0], &t});
    return wrap(info.Env(), CR_DISPATCH(d, concat, parts, toInt64(info[1], "dim")));
  });
}
Napi::Value Narrow(const Info& info) {
  return guarded(info, "narrow", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, narrow, x, toInt64(info[1], "dim"), toInt64(info[2], "start"),
                                        toInt64(info[3], "length")));
  });
}
Napi::Value ShortcutA(const Info& info) {
  return guarded(info, "shortcutA", [&]() -> Napi::Value {
    const Tensor& x = arg(info, 0, "input");
    return wrap(info.Env(), CR_DISPATCH(x.device, shortcutA, x, toInt64(info[1], "outChannels"),
                                        toInt64(info[2], "stride")));
  });
}
Napi::Value ShortcutABackward(const Info& info) {
  return guarded(info, "shortcutA_backward", [&]() -> Napi::Value {
    const Tensor& dy = arg(info, 0, "grad");
    return wrap(info.Env(), CR_DISPATCH(dy.device, shortcutABackward, dy, toShape(info[1], "input shape"),
                                        toInt64(info[2], "stride")));
  });
}
Napi::Value Matmul(const Info& info) {
  return guarded(info, "matmul", [&]() -> Napi::Value {
    const Tensor &a = arg(info, 0, "a"), &b = arg(info, 1, "b");
    return wrap(info.Env(), CR_DISPATCH(deviceOf("matmul", {&a, &b}), matmul, a, b, toBool(info[2], "transA"),
                                        toBool(info[3], "transB")));
  });
}
Napi::Value CrossEntropy(const Info& info) {
  return guarded(info, "crossEntropy", [&]() -> Napi::Value {
    const Tensor &logits = arg(info, 0, "logits"), &labels = arg(info, 1, "labels");
    auto r = CR_DISPATCH(deviceOf("crossEntropy", {&logits, &labels}), crossEntropyForward, logits, labels,
                         toDouble(info[2], "labelSmoothing"), toBool(info[3], "checkLabels"));
    return list(info.Env(), {r.loss, r.probs});
  });
}
Napi::Value CrossEntropyBackward(const Info& info) {
  return guarded(info, "crossEntropy_backward", [&]() -> Napi::Value {
    const Tensor &grad = arg(info, 0, "grad"), &probs = arg(info, 1, "probs"), &labels = arg(info, 2, "labels");
    return wrap(info.Env(), CR_DISPATCH(deviceOf("crossEntropy_backward", {&grad, &probs, &labels}), crossEntropyBackward,
                                        grad, probs, labels, toDouble(info[3], "labelSmoothing")));
  });
}
Napi::Value SgdStep(const Info& info) {
  return guarded(info, "sgdStep", [&]() -> Napi::Value {
    Tensor* param = TensorWrap::GetMutable(info[0], "param");
    const Tensor& grad = arg(info, 1, "grad");
    Tensor* buffer = mutArg(info, 2, "momentumBuffer");
    SgdOptions o{toDouble(info[3], "lr"),          toDouble(info[4], "momentum"),
                 toDouble(info[5], "dampening"),   toDouble(info[6], "weightDecay"),
                 toBool(info[7], "nesterov"),      toBool(info[8], "firstStep"),
                 optArg(info, 9, "lrTensor"),      optArg(info, 10, "skipIfNonzero")};
    CR_DISPATCH(deviceOf("sgdStep", {param, &grad, buffer}), sgdStep, *param, grad, buffer, o);
    return info.Env().Undefined();
  });
}
// adamStep(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, decoupled, step, skipIfNonzero?)
Napi::Value AdamStep(const Info& info) {
  return guarded(info, "adamStep", [&]() -> Napi::Value {
    Tensor* param = TensorWrap::GetMutable(info[0], "param");
    const Tensor& grad = arg(info, 1, "grad");
    Tensor* expAvg = TensorWrap::GetMutable(info[2], "expAvg");
    Tensor* expAvgSq = TensorWrap::GetMutable(info[3], "expAvgSq");
    AdamOptions o{toDouble(info[4], "lr"),          toDouble(info[5], "beta1"),
                  toDouble(info[6], "beta2"),       toDouble(info[7], "eps"),
                  toDouble(info[8], "weightDecay"), toBool(info[9], "decoupled"),
                  toInt64(info[10], "step"), optArg(info, 11, "skipIfNonzero")};
    CR_DISPATCH(deviceOf("adamStep", {param, &grad, expAvg, expAvgSq}), adamStep, *param, grad, *expAvg, *expAvgSq, o);
    return info.Env().Undefined();
  });
}
// sgdStepMulti(params[], grads[], buffers[] | null, lr, momentum, dampening, weightDecay, nesterov, firstStep,
//              lrTensor?, skipIfNonzero?)
Napi::Value SgdStepMulti(const Info& info) {
  return guarded(info, "sgdStepMulti", [&]() -> Napi::Value {
    auto tensors = [&](size_t at, const char* what) {
      std::vector<Tensor*> out;
      if (info[at].IsNull() || info[at].IsUndefined()) return out;
      if (!info[at].IsArray()) throw Napi::TypeError::New(info.Env(), std::string("sgdStepMulti: ") + what + " must be an array");
      Napi::Array arr = info[at].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(TensorWrap::GetMutable(arr.Get(i), what));
      return out;
    };
    std::vector<Tensor*> params = tensors(0, "params"), gradsMutable = tensors(1, "grads"), buffers = tensors(2, "buffers");
    std::vector<const Tensor*> grads(gradsMutable.begin(), gradsMutable.end());
    if (params.empty()) return info.Env().Undefined();
    for (size_t i = 0; i < params.size(); ++i) {
      deviceOf("sgdStepMulti", {params[0], params[i], i < grads.size() ? grads[i] : nullptr,
                                i < buffers.size() ? buffers[i] : nullptr});
    }
    SgdOptions o{toDouble(info[3], "lr"),          toDouble(info[4], "momentum"),
                 toDouble(info[5], "dampening"),   toDouble(info[6], "weightDecay"),
                 toBool(info[7], "nesterov"),      toBool(info[8], "firstStep"),
                 optArg(info, 9, "lrTensor"),      optArg(info, 10, "skipIfNonzero")};
    CR_DISPATCH(params[0]->device, sgdStepMulti, params, grads, buffers, o);
    return info.Env().Undefined();
  });
}

Napi::Value UnscaleGrads(const Info& info) {
  return guarded(info, "unscaleGrads", [&]() -> Napi::Value {
    if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "unscaleGrads: gradients must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<Tensor*> grads;
    for (uint32_t i = 0; i < arr.Length(); ++i) grads.push_back(TensorWrap::GetMutable(arr.Get(i), "gradient"));
    if (grads.empty()) return Napi::Boolean::New(info.Env(), false);
    for (const Tensor* g : grads) deviceOf("unscaleGrads", {grads[0], g});
    return Napi::Boolean::New(info.Env(), CR_DISPATCH(grads[0]->device, unscaleGrads, grads, toDouble(info[1], "invScale")));
  });
}
// [scale, growthTracker, found, skipped] from info[at..at+3].
ScalerState scalerState(const Info& info, size_t at) {
  return {TensorWrap::GetMutable(info[at], "scale"), TensorWrap::GetMutable(info[at + 1], "growthTracker"),
          TensorWrap::GetMutable(info[at + 2], "found"), TensorWrap::GetMutable(info[at + 3], "skipped")};
}
// unscaleGradsBy(grads[], scale, growthTracker, found, skipped)
Napi::Value UnscaleGradsBy(const Info& info) {
  return guarded(info, "unscaleGradsBy", [&]() -> Napi::Value {
    if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "unscaleGradsBy: gradients must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<Tensor*> grads;
    for (uint32_t i = 0; i < arr.Length(); ++i) grads.push_back(TensorWrap::GetMutable(arr.Get(i), "gradient"));
    ScalerState s = scalerState(info, 1);
    for (const Tensor* g : grads) deviceOf("unscaleGradsBy", {s.scale, g});
    CR_DISPATCH(s.scale->device, unscaleGradsBy, grads, s);
    return info.Env().Undefined();
  });
}
// updateScaleState(scale, growthTracker, found, skipped, growthFactor, backoffFactor, growthInterval)
Napi::Value UpdateScaleState(const Info& info) {
  return guarded(info, "updateScaleState", [&]() -> Napi::Value {
    ScalerState s = scalerState(info, 0);
    CR_DISPATCH(s.scale->device, updateScaleState, s, toDouble(info[4], "growthFactor"),
                toDouble(info[5], "backoffFactor"), toInt64(info[6], "growthInterval"));
    return info.Env().Undefined();
  });
}
Napi::Value RandomUniform(const Info& info) {
  return guarded(info, "rand", [&]() -> Napi::Value {
    return wrap(info.Env(), CR_DISPATCH(deviceArg(info[4]), randomUniform, toShape(info[0], "shape"), seedOf(info[1]),
                                        toDouble(info[2], "low"), toDouble(info[3], "high")));
  });
}
Napi::Value RandomNormal(const Info& info) {
  return guarded(info, "randn", [&]() -> Napi::Value {
    return wrap(info.Env(), CR_DISPATCH(deviceArg(info[4]), randomNormal, toShape(info[0], "shape"), seedOf(info[1]),
                                        toDouble(info[2], "mean"), toDouble(info[3], "std")));
  });
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports, Profiler& profiler) {
  struct Entry { const char* name; Napi::Function::Callback fn; };
  const Entry entries[] = {
      {"conv2d", Conv2d},
      {"conv2dBackward", Conv2dBackward},
      {"convBnStats", ConvBnStats},
      {"convBiasAct", ConvBiasAct},
      {"batchNorm", BatchNorm},
      {"batchNormBackward", BatchNormBackward},
      {"bnAddRelu", BnAddRelu},
      {"bnAddReluBackward", BnAddReluBackward},
      {"bnRelu", BnRelu},
      {"bnReluBackward", BnReluBackward},
      {"maxPool2d", MaxPool2d},
      {"maxPool2dBackward", MaxPool2dBackward},
      {"avgPool2d", AvgPool2d},
      {"avgPool2dBackward", AvgPool2dBackward},
      {"adaptiveAvgPool2d", AdaptiveAvgPool2d},
      {"adaptiveAvgPool2dBackward", AdaptiveAvgPool2dBackward},
      {"binary", Binary},
      {"affine", Affine},
      {"relu", Relu},
      {"reluBackward", ReluBackward},
      {"sigmoid", Sigmoid},
      {"sigmoidBackward", SigmoidBackward},
      {"broadcastTo", BroadcastTo},
      {"sumTo", SumTo},
      {"sum", Sum},
      {"full", Full},
      {"increment", Increment},
      {"concat", Concat},
      {"narrow", Narrow},
      {"shortcutA", ShortcutA},
      {"shortcutABackward", ShortcutABackward},
      {"matmul", Matmul},
      {"crossEntropy", CrossEntropy},
      {"crossEntropyBackward", CrossEntropyBackward},
      {"sgdStep", SgdStep},
      {"adamStep", AdamStep},
      {"unscaleGrads", UnscaleGrads},
      {"unscaleGradsBy", UnscaleGradsBy},
      {"updateScaleState", UpdateScaleState},
      {"sgdStepMulti", SgdStepMulti},
      {"randomUniform", RandomUniform},
      {"randomNormal", RandomNormal},
  };
  for (const Entry& e : entries) exports.Set(e.name, profiledFunction(env, profiler, e.name, e.fn));
}

}  // namespace cr::napi
