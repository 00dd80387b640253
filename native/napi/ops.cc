// One binding function per native op: unwrap the arguments, call the primitive of the device
// the tensors live on, wrap the results. No logic lives here beyond argument conversion and
// that choice. Each op's name is written once, in InitOps' table: it is the export (native.<name>),
// the profiler's line, and the prefix of every error the op throws (profiledFunction), and the
// TypeScript rule and the C++ kernels carry the same name (batchNorm2d: rn.batchNorm2d, tape op
// 'batchNorm2d', native.batchNorm2d, cr::batchNorm2d and cr::cuda::batchNorm2d).
#include "ops.h"

#include "../cpu/adam.h"
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
// they are not all on one device (the op's name is prefixed where the error becomes a JS one).
Device deviceOf(std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (t == nullptr) continue;
    if (first == nullptr) first = t;
    CR_CHECK_TYPE(t->device == first->device, "all tensors must be on one device, got ",
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

// Arguments passed by name: the objects of lib/binding.ts's ConvParams, PoolParams, SgdStepOptions
// and AdamStepOptions, whose fields are those of the C++ structs they become.
Napi::Object fields(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}
std::pair<int64_t, int64_t> pairOf(const Napi::Object& o, const char* name) {
  auto p = toInt64s(o.Get(name), name);
  if (p.size() != 2) throw Napi::TypeError::New(o.Env(), std::string(name) + " must hold 2 integers");
  return {p[0], p[1]};
}
Conv2dParams convParams(const Napi::Value& v) {
  Napi::Object o = fields(v, "conv2d params");
  auto [strideH, strideW] = pairOf(o, "stride");
  auto [padH, padW] = pairOf(o, "padding");
  auto [dilationH, dilationW] = pairOf(o, "dilation");
  const Napi::Value bf16 = o.Get("bf16Compute");
  return {strideH, strideW, padH, padW, dilationH, dilationW, toInt64(o.Get("groups"), "groups"),
          bf16.IsUndefined() ? false : toBool(bf16, "bf16Compute")};
}
Pool2dParams poolParams(const Napi::Value& v) {
  Napi::Object o = fields(v, "pool params");
  auto [kernelH, kernelW] = pairOf(o, "kernelSize");
  auto [strideH, strideW] = pairOf(o, "stride");
  auto [padH, padW] = pairOf(o, "padding");
  return {kernelH, kernelW, strideH, strideW, padH, padW, toBool(o.Get("ceilMode"), "ceilMode"),
          toBool(o.Get("countIncludePad"), "countIncludePad")};
}
SgdOptions sgdOptions(const Napi::Value& v) {
  Napi::Object o = fields(v, "SGD options");
  return {toDouble(o.Get("lr"), "lr"),
          toDouble(o.Get("momentum"), "momentum"),
          toDouble(o.Get("dampening"), "dampening"),
          toDouble(o.Get("weightDecay"), "weightDecay"),
          toBool(o.Get("nesterov"), "nesterov"),
          toBool(o.Get("firstStep"), "firstStep"),
          TensorWrap::GetOptional(o.Get("lrTensor"), "lrTensor"),
          TensorWrap::GetOptional(o.Get("skipIfNonzero"), "skipIfNonzero")};
}
AdamOptions adamOptions(const Napi::Value& v) {
  Napi::Object o = fields(v, "Adam options");
  return {toDouble(o.Get("lr"), "lr"),
          toDouble(o.Get("beta1"), "beta1"),
          toDouble(o.Get("beta2"), "beta2"),
          toDouble(o.Get("eps"), "eps"),
          toDouble(o.Get("weightDecay"), "weightDecay"),
          toBool(o.Get("decoupled"), "decoupled"),
          toInt64(o.Get("step"), "step"),
          TensorWrap::GetOptional(o.Get("skipIfNonzero"), "skipIfNonzero")};
}
uint64_t seedOf(const Napi::Value& v) {
  if (!v.IsBigInt()) throw Napi::TypeError::New(v.Env(), "seed must be a bigint");
  bool lossless = false;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

Napi::Value Conv2d(const Info& info) {
  const Tensor &x = arg(info, 0, "input"), &w = arg(info, 1, "weight");
  const Tensor* b = optArg(info, 2, "bias");
  Device d = deviceOf({&x, &w, b});
  return wrap(info.Env(), CR_DISPATCH(d, conv2d, x, w, b, convParams(info[3])));
}
Napi::Value Conv2dBackward(const Info& info) {
  auto need = flags(info[4], 3, "needs");
  const Tensor &dy = arg(info, 0, "grad"), &x = arg(info, 1, "input"), &w = arg(info, 2, "weight");
  Device d = deviceOf({&dy, &x, &w});
  auto g = CR_DISPATCH(d, conv2dBackward, dy, x, w, convParams(info[3]), need[0], need[1], need[2]);
  return list(info.Env(), {g.dx, g.dweight, g.dbias});
}

// convBnStats(x, weight, scale?, bias?, relu, params): [y, sum, sqSum], or the reason (a string) when
// the device cannot run this configuration.
Napi::Value ConvBnStats(const Info& info) {
  const Tensor &x = arg(info, 0, "input"), &w = arg(info, 1, "weight");
  const Tensor *scale = optArg(info, 2, "scale"), *bias = optArg(info, 3, "bias");
  Device d = deviceOf({&x, &w, scale, bias});
  auto r = CR_DISPATCH(d, convBnStats, x, w, scale, bias, toBool(info[4], "relu"), convParams(info[5]));
  if (!r.unsupported.empty()) return Napi::String::New(info.Env(), r.unsupported);
  return list(info.Env(), {r.y, r.sum, r.sqSum});
}
// convBiasAct(x, weight, bias | null, z | null, relu, params): act(conv2d(x, weight) + bias + z), forward only.
Napi::Value ConvBiasAct(const Info& info) {
  const Tensor &x = arg(info, 0, "input"), &w = arg(info, 1, "weight");
  const Tensor *b = optArg(info, 2, "bias"), *z = optArg(info, 3, "z");
  Device d = deviceOf({&x, &w, b, z});
  return wrap(info.Env(), CR_DISPATCH(d, convBiasAct, x, w, b, z, toBool(info[4], "relu"),
                                      convParams(info[5])));
}

// The batch-norm ops' arguments after their tensors: weight?, bias?, runningMean?, runningVar?,
// training, momentum, eps (forward, from info[at]); weight?, saveMean, saveInvStd, training
// (backward, from info[at]; the needs flags follow).
struct BnArgs {
  const Tensor *w, *b;
  Tensor *rm, *rv;
  bool training;
  double momentum, eps;
};
BnArgs bnArgs(const Info& info, size_t at) {
  return {optArg(info, at, "weight"), optArg(info, at + 1, "bias"), mutArg(info, at + 2, "runningMean"),
          mutArg(info, at + 3, "runningVar"), toBool(info[at + 4], "training"), toDouble(info[at + 5], "momentum"),
          toDouble(info[at + 6], "eps")};
}
struct BnGradArgs {
  const Tensor* w;
  const Tensor &mean, &invStd;
  bool training;
};
BnGradArgs bnGradArgs(const Info& info, size_t at) {
  return {optArg(info, at, "weight"), arg(info, at + 1, "saveMean"), arg(info, at + 2, "saveInvStd"),
          toBool(info[at + 3], "training")};
}
template <typename R>
Napi::Value normalised(Napi::Env env, const R& r) { return list(env, {r.y, r.saveMean, r.saveInvStd}); }

Napi::Value BatchNorm2d(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  BnArgs a = bnArgs(info, 1);
  return normalised(info.Env(), CR_DISPATCH(deviceOf({&x, a.w, a.b, a.rm, a.rv}), batchNorm2d, x, a.w, a.b, a.rm, a.rv,
                                            a.training, a.momentum, a.eps));
}
Napi::Value BatchNorm2dBackward(const Info& info) {
  auto need = flags(info[6], 3, "needs");
  const Tensor &dy = arg(info, 0, "grad"), &x = arg(info, 1, "input");
  BnGradArgs a = bnGradArgs(info, 2);
  auto g = CR_DISPATCH(deviceOf({&dy, &x, a.w, &a.mean, &a.invStd}), batchNorm2dBackward, dy, x, a.w, a.mean, a.invStd,
                       a.training, need[0], need[1], need[2]);
  return list(info.Env(), {g.dx, g.dweight, g.dbias});
}
Napi::Value BnAddRelu(const Info& info) {
  const Tensor &x = arg(info, 0, "input"), &res = arg(info, 1, "residual");
  BnArgs a = bnArgs(info, 2);
  return normalised(info.Env(), CR_DISPATCH(deviceOf({&x, &res, a.w, a.b, a.rm, a.rv}), bnAddRelu, x, res, a.w, a.b,
                                            a.rm, a.rv, a.training, a.momentum, a.eps));
}
Napi::Value BnAddReluBackward(const Info& info) {
  auto need = flags(info[7], 4, "needs");
  const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output"), &x = arg(info, 2, "input");
  BnGradArgs a = bnGradArgs(info, 3);
  auto g = CR_DISPATCH(deviceOf({&dy, &y, &x, a.w, &a.mean, &a.invStd}), bnAddReluBackward, dy, y, x, a.w, a.mean, a.invStd,
                       a.training, need[0], need[1], need[2], need[3]);
  return list(info.Env(), {g.dx, g.dresidual, g.dweight, g.dbias});
}
Napi::Value BnRelu(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  BnArgs a = bnArgs(info, 1);
  return normalised(info.Env(), CR_DISPATCH(deviceOf({&x, a.w, a.b, a.rm, a.rv}), bnRelu, x, a.w, a.b, a.rm, a.rv,
                                            a.training, a.momentum, a.eps));
}
Napi::Value BnReluBackward(const Info& info) {
  auto need = flags(info[7], 3, "needs");
  const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output"), &x = arg(info, 2, "input");
  BnGradArgs a = bnGradArgs(info, 3);
  auto g = CR_DISPATCH(deviceOf({&dy, &y, &x, a.w, &a.mean, &a.invStd}), bnReluBackward, dy, y, x, a.w, a.mean, a.invStd,
                       a.training, need[0], need[1], need[2]);
  return list(info.Env(), {g.dx, g.dweight, g.dbias});
}

Napi::Value MaxPool2d(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  auto r = CR_DISPATCH(x.device, maxPool2d, x, poolParams(info[1]));
  return list(info.Env(), {r.y, r.argmax});
}
Napi::Value MaxPool2dBackward(const Info& info) {
  const Tensor &dy = arg(info, 0, "grad"), &argmax = arg(info, 1, "argmax");
  Device d = deviceOf({&dy, &argmax});
  return wrap(info.Env(), CR_DISPATCH(d, maxPool2dBackward, dy, argmax, toShape(info[2], "input shape")));
}
Napi::Value AvgPool2d(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, avgPool2d, x, poolParams(info[1])));
}
Napi::Value AvgPool2dBackward(const Info& info) {
  const Tensor& dy = arg(info, 0, "grad");
  return wrap(info.Env(),
              CR_DISPATCH(dy.device, avgPool2dBackward, dy, toShape(info[1], "input shape"), poolParams(info[2])));
}
Napi::Value AdaptiveAvgPool2d(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, adaptiveAvgPool2d, x, toInt64(info[1], "outputH"),
                                      toInt64(info[2], "outputW")));
}
Napi::Value AdaptiveAvgPool2dBackward(const Info& info) {
  const Tensor& dy = arg(info, 0, "grad");
  return wrap(info.Env(), CR_DISPATCH(dy.device, adaptiveAvgPool2dBackward, dy, toShape(info[1], "input shape")));
}

Napi::Value Binary(const Info& info) {
  int64_t op = toInt64(info[0], "op");
  CR_CHECK_RANGE(op >= 0 && op <= 3, "binary: unknown op ", op);
  const Tensor &a = arg(info, 1, "a"), &b = arg(info, 2, "b");
  Device d = deviceOf({&a, &b});
  return wrap(info.Env(), CR_DISPATCH(d, binary, static_cast<BinaryOp>(op), a, b));
}
Napi::Value Affine(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, affine, x, toDouble(info[1], "scale"), toDouble(info[2], "shift")));
}
Napi::Value Relu(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, relu, x));
}
Napi::Value ReluBackward(const Info& info) {
  const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output");
  return wrap(info.Env(), CR_DISPATCH(deviceOf({&dy, &y}), reluBackward, dy, y));
}
Napi::Value Sigmoid(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, sigmoid, x));
}
Napi::Value SigmoidBackward(const Info& info) {
  const Tensor &dy = arg(info, 0, "grad"), &y = arg(info, 1, "output");
  return wrap(info.Env(), CR_DISPATCH(deviceOf({&dy, &y}), sigmoidBackward, dy, y));
}
Napi::Value BroadcastTo(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, broadcastTo, x, toShape(info[1], "shape")));
}
Napi::Value SumTo(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, sumTo, x, toShape(info[1], "shape")));
}
Napi::Value Sum(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(),
              CR_DISPATCH(x.device, reduceSum, x, toInt64s(info[1], "dims"), toBool(info[2], "keepDim")));
}
Napi::Value Full(const Info& info) {
  return wrap(info.Env(), CR_DISPATCH(deviceArg(info[3]), full, toShape(info[0], "shape"),
                                      toDouble(info[1], "value"), parseDType(toString(info[2], "dtype"))));
}
Napi::Value Increment(const Info& info) {
  Tensor* t = TensorWrap::GetMutable(info[0], "counter");
  CR_DISPATCH(t->device, increment, *t);
  return info.Env().Undefined();
}
Napi::Value Concat(const Info& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "concat: tensors must be an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<Tensor> parts;
  for (uint32_t i = 0; i < arr.Length(); ++i) parts.push_back(TensorWrap::Get(arr.Get(i), "concat input"));
  Device d = parts.empty() ? Device::CPU : parts[0].device;
  for (const Tensor& t : parts) deviceOf({&parts[0], &t});
  return wrap(info.Env(), CR_DISPATCH(d, concat, parts, toInt64(info[1], "dim")));
}
Napi::Value Narrow(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, narrow, x, toInt64(info[1], "dim"), toInt64(info[2], "start"),
                                      toInt64(info[3], "length")));
}
Napi::Value ShortcutA(const Info& info) {
  const Tensor& x = arg(info, 0, "input");
  return wrap(info.Env(), CR_DISPATCH(x.device, shortcutA, x, toInt64(info[1], "outChannels"),
                                      toInt64(info[2], "stride")));
}
Napi::Value ShortcutABackward(const Info& info) {
  const Tensor& dy = arg(info, 0, "grad");
  return wrap(info.Env(), CR_DISPATCH(dy.device, shortcutABackward, dy, toShape(info[1], "input shape"),
                                      toInt64(info[2], "stride")));
}
Napi::Value Matmul(const Info& info) {
  const Tensor &a = arg(info, 0, "a"), &b = arg(info, 1, "b");
  const bool transA = toBool(info[2], "transA"), transB = toBool(info[3], "transB");
  if (info.Length() > 4 && toBool(info[4], "bf16Compute")) {  // autocast bfloat16 on the CPU
    CR_CHECK_TYPE(a.device == Device::CPU && b.device == Device::CPU, "matmul: bf16Compute is for CPU tensors");
    return wrap(info.Env(), matmulBf16(a, b, transA, transB));
  }
  return wrap(info.Env(), CR_DISPATCH(deviceOf({&a, &b}), matmul, a, b, transA, transB));
}
Napi::Value CrossEntropy(const Info& info) {
  const Tensor &logits = arg(info, 0, "logits"), &labels = arg(info, 1, "labels");
  auto r = CR_DISPATCH(deviceOf({&logits, &labels}), crossEntropy, logits, labels,
                       toDouble(info[2], "labelSmoothing"), toBool(info[3], "checkLabels"));
  return list(info.Env(), {r.loss, r.probs});
}
Napi::Value CrossEntropyBackward(const Info& info) {
  const Tensor &grad = arg(info, 0, "grad"), &probs = arg(info, 1, "probs"), &labels = arg(info, 2, "labels");
  return wrap(info.Env(), CR_DISPATCH(deviceOf({&grad, &probs, &labels}), crossEntropyBackward,
                                      grad, probs, labels, toDouble(info[3], "labelSmoothing")));
}
Napi::Value SgdStep(const Info& info) {
  Tensor* param = TensorWrap::GetMutable(info[0], "param");
  const Tensor& grad = arg(info, 1, "grad");
  Tensor* buffer = mutArg(info, 2, "momentumBuffer");
  CR_DISPATCH(deviceOf({param, &grad, buffer}), sgdStep, *param, grad, buffer, sgdOptions(info[3]));
  return info.Env().Undefined();
}
// adamStep(param, grad, expAvg, expAvgSq, options)
Napi::Value AdamStep(const Info& info) {
  Tensor* param = TensorWrap::GetMutable(info[0], "param");
  const Tensor& grad = arg(info, 1, "grad");
  Tensor* expAvg = TensorWrap::GetMutable(info[2], "expAvg");
  Tensor* expAvgSq = TensorWrap::GetMutable(info[3], "expAvgSq");
  CR_DISPATCH(deviceOf({param, &grad, expAvg, expAvgSq}), adamStep, *param, grad, *expAvg, *expAvgSq,
              adamOptions(info[4]));
  return info.Env().Undefined();
}
// sgdStepMulti(params[], grads[], buffers[] | null, options)
Napi::Value SgdStepMulti(const Info& info) {
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
    deviceOf({params[0], params[i], i < grads.size() ? grads[i] : nullptr, i < buffers.size() ? buffers[i] : nullptr});
  }
  CR_DISPATCH(params[0]->device, sgdStepMulti, params, grads, buffers, sgdOptions(info[3]));
  return info.Env().Undefined();
}

Napi::Value UnscaleGrads(const Info& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "unscaleGrads: gradients must be an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<Tensor*> grads;
  for (uint32_t i = 0; i < arr.Length(); ++i) grads.push_back(TensorWrap::GetMutable(arr.Get(i), "gradient"));
  if (grads.empty()) return Napi::Boolean::New(info.Env(), false);
  for (const Tensor* g : grads) deviceOf({grads[0], g});
  return Napi::Boolean::New(info.Env(), CR_DISPATCH(grads[0]->device, unscaleGrads, grads, toDouble(info[1], "invScale")));
}
// [scale, growthTracker, found, skipped] from info[at..at+3].
ScalerState scalerState(const Info& info, size_t at) {
  return {TensorWrap::GetMutable(info[at], "scale"), TensorWrap::GetMutable(info[at + 1], "growthTracker"),
          TensorWrap::GetMutable(info[at + 2], "found"), TensorWrap::GetMutable(info[at + 3], "skipped")};
}
// unscaleGradsBy(grads[], scale, growthTracker, found, skipped)
Napi::Value UnscaleGradsBy(const Info& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "unscaleGradsBy: gradients must be an array");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<Tensor*> grads;
  for (uint32_t i = 0; i < arr.Length(); ++i) grads.push_back(TensorWrap::GetMutable(arr.Get(i), "gradient"));
  ScalerState s = scalerState(info, 1);
  for (const Tensor* g : grads) deviceOf({s.scale, g});
  CR_DISPATCH(s.scale->device, unscaleGradsBy, grads, s);
  return info.Env().Undefined();
}
// updateScaleState(scale, growthTracker, found, skipped, growthFactor, backoffFactor, growthInterval)
Napi::Value UpdateScaleState(const Info& info) {
  ScalerState s = scalerState(info, 0);
  CR_DISPATCH(s.scale->device, updateScaleState, s, toDouble(info[4], "growthFactor"),
              toDouble(info[5], "backoffFactor"), toInt64(info[6], "growthInterval"));
  return info.Env().Undefined();
}
Napi::Value RandomUniform(const Info& info) {
  return wrap(info.Env(), CR_DISPATCH(deviceArg(info[4]), randomUniform, toShape(info[0], "shape"), seedOf(info[1]),
                                      toDouble(info[2], "low"), toDouble(info[3], "high")));
}
Napi::Value RandomNormal(const Info& info) {
  return wrap(info.Env(), CR_DISPATCH(deviceArg(info[4]), randomNormal, toShape(info[0], "shape"), seedOf(info[1]),
                                      toDouble(info[2], "mean"), toDouble(info[3], "std")));
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports, Profiler& profiler) {
  struct Entry { const char* name; Napi::Function::Callback fn; };
  const Entry entries[] = {
      {"conv2d", Conv2d},
      {"conv2dBackward", Conv2dBackward},
      {"convBnStats", ConvBnStats},
      {"convBiasAct", ConvBiasAct},
      {"batchNorm2d", BatchNorm2d},
      {"batchNorm2dBackward", BatchNorm2dBackward},
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
