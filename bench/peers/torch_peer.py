#!/usr/bin/python3
"""PyTorch peer of the benchmark harness (bench/run.ts).

Spawned once per suite: by the CPU suites with Debian's /usr/bin/python3 (python3-torch 1.13 +
torchvision), by the GPU suite with `python3` from PATH (a CUDA build of PyTorch) and
BENCH_TORCH_DEVICE=cuda in its environment. It talks JSON lines: one request per line on stdin,
exactly one reply per line on stdout. The first line it writes, unasked, says whether torch loaded:

  -> (nothing)                                  <- {"ready": true, "torch": "1.13.0", "threads": 2, ...}
  -> {"cmd": "setup", "id": 3, "spec": {...}}   <- {"ok": true}           builds workload 3
  -> {"cmd": "run", "id": 3}                    <- {"ok": true, "ms": 12.3}   times one repetition
  -> {"cmd": "release", "id": 3}                <- {"ok": true}
  -> {"cmd": "export_onnx", "model": "resnet18", "path": "..."}  <- {"ok": true}
  -> {"cmd": "quit"}                            (exits)

A failure is {"ok": false, "error": "..."}. The timing is taken here around the work alone, so the
pipe's latency is not in it.

GPU workloads (kinds "gpu-train" and "gpu-infer") run on CUDA: one repetition is `steps`
iterations followed by torch.cuda.synchronize(), with cudnn.benchmark on and the TF32 switches
set from the spec. Their "run" replies also carry "peakBytes" (torch.cuda.max_memory_allocated()
since the workload's setup). Where torch.cuda.is_available() is False, their setup fails with the
reason, and the harness reports the peer missing for them. With BENCH_TORCH_DEVICE=cuda the hello
also names torch's CUDA and cuDNN versions and the device, and torchvision is optional (ResNet-18
and ResNet-50 are then defined here, as torchvision defines them). Anything else torch or Python prints goes to stderr (file
descriptor 1 is pointed at stderr; the protocol has its own copy of the original stdout).
"""
import contextlib
import gc
import json
import os
import sys
import time
import traceback

_proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def reply(obj):
    _proto.write(json.dumps(obj) + "\n")
    _proto.flush()


DEVICE = os.environ.get("BENCH_TORCH_DEVICE") or "cpu"

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as exc:  # reported to the harness, which marks the peer missing
    reply({"ready": False, "error": f"cannot import torch/torchvision in {sys.executable}: {exc}"})
    sys.exit(0)
try:
    import torchvision
except Exception as exc:
    if DEVICE != "cuda":  # the CPU suites need torchvision (its models, and the ONNX export)
        reply({"ready": False, "error": f"cannot import torch/torchvision in {sys.executable}: {exc}"})
        sys.exit(0)
    torchvision = None  # the GPU suite falls back to the ResNet definitions below

THREADS = int(os.environ.get("BENCH_THREADS") or os.cpu_count() or 1)
torch.set_num_threads(THREADS)
torch.manual_seed(0)


# --- CIFAR ResNet of the ResNet paper, section 4.2: cifar_resnet_torch.py (beside this file) ----------
from cifar_resnet_torch import CifarResNet  # noqa: E402  (after the guarded torch import)


# --- torchvision's ResNet-18 / ResNet-50 (v1.5: stride on the 3x3), for when torchvision is absent --

class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class _ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._stage(block, 64, layers[0], 1)
        self.layer2 = self._stage(block, 128, layers[1], 2)
        self.layer3 = self._stage(block, 256, layers[2], 2)
        self.layer4 = self._stage(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _stage(self, block, planes, n, stride):
        downsample = None
        if stride != 1 or self.in_planes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.in_planes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.in_planes, planes, stride, downsample)]
        self.in_planes = planes * block.expansion
        blocks += [block(self.in_planes, planes, 1, None) for _ in range(1, n)]
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_model(name, num_classes=1000):
    if name == "resnet18":
        if torchvision is None:
            return _ResNet(_BasicBlock, [2, 2, 2, 2], num_classes)
        return torchvision.models.resnet18(num_classes=num_classes)
    if name == "resnet50":
        if torchvision is None:
            return _ResNet(_Bottleneck, [3, 4, 6, 3], num_classes)
        return torchvision.models.resnet50(num_classes=num_classes)
    if name.startswith("cifar-resnet"):
        return CifarResNet(int(name[len("cifar-resnet"):]), num_classes)
    raise ValueError(f"unknown model {name}")


# --- GPU workloads -------------------------------------------------------------------------------

GPU_KINDS = ("gpu-train", "gpu-infer")


def cuda_unavailable_reason():
    """Why torch.cuda.is_available() is False, in one line."""
    if torch.version.cuda is None:
        return f"this PyTorch ({torch.__version__}) is built without CUDA"
    try:
        torch.cuda.init()
    except Exception as exc:  # the driver's or the runtime's own words
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if torch.cuda.device_count() == 0:
        return "no CUDA device visible"
    return "unknown reason"


def cuda_info():
    """The hello's CUDA fields (CUDA peer only)."""
    info = {"cuda": torch.version.cuda, "cudnn": None, "cudaAvailable": False, "device": None, "cudaReason": None}
    try:
        info["cudaAvailable"] = bool(torch.cuda.is_available())
        if info["cudaAvailable"]:
            info["cudnn"] = torch.backends.cudnn.version()
            p = torch.cuda.get_device_properties(0)
            info["device"] = f"{p.name} (sm_{p.major}{p.minor}, {p.total_memory / 2**30:.0f} GiB)"
        else:
            info["cudaReason"] = cuda_unavailable_reason()
    except Exception as exc:
        info["cudaReason"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return info


def set_tf32(on):
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def grad_scaler():
    try:
        return torch.amp.GradScaler("cuda")
    except (AttributeError, TypeError):  # PyTorch before 2.3
        return torch.cuda.amp.GradScaler()


def setup_gpu(spec):
    """One repetition = spec["steps"] iterations, then a device synchronise."""
    if not torch.cuda.is_available():
        raise RuntimeError(f"torch.cuda.is_available() is False: {cuda_unavailable_reason()}")
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    torch.backends.cudnn.benchmark = True
    tf32 = bool(spec["tf32"])
    set_tf32(tf32)
    amp = {None: None, "bfloat16": torch.bfloat16, "float16": torch.float16}[spec.get("amp")]
    fmt = torch.channels_last if spec["channelsLast"] else torch.contiguous_format
    steps, batch, size = spec["steps"], spec["batch"], spec["size"]
    dev = torch.device("cuda")

    def autocast():
        return torch.autocast("cuda", dtype=amp) if amp is not None else contextlib.nullcontext()

    model = make_model(spec["model"], spec.get("numClasses", 1000)).to(dev, memory_format=fmt)
    x = torch.randn(batch, 3, size, size, device=dev).contiguous(memory_format=fmt)
    if spec["kind"] == "gpu-infer":
        model.eval()

        def infer():
            set_tf32(tf32)
            with torch.no_grad():
                for _ in range(steps):
                    with autocast():
                        model(x)
            torch.cuda.synchronize()
        return infer

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"],
                          weight_decay=spec["weightDecay"])
    labels = (torch.arange(batch, device=dev, dtype=torch.int64) * 7919) % spec["numClasses"]
    scaler = grad_scaler() if amp is torch.float16 else None

    def train():
        set_tf32(tf32)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = F.cross_entropy(model(x), labels)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        torch.cuda.synchronize()
    return train


# --- workloads: each setup returns a function that runs one repetition -----------------------------

def setup(spec):
    kind = spec["kind"]
    if kind in GPU_KINDS:
        return setup_gpu(spec)
    if kind == "conv":
        n, c, h, w, k, r = spec["n"], spec["c"], spec["h"], spec["w"], spec["k"], spec["r"]
        stride, pad = spec["stride"], spec["pad"]
        bwd = spec["pass"] == "bwd"
        x = torch.randn(n, c, h, w, requires_grad=bwd)
        wt = (torch.randn(k, c, r, r) * 0.05).requires_grad_(bwd)
        if not bwd:
            def fwd():
                with torch.no_grad():
                    F.conv2d(x, wt, None, stride, pad)
            return fwd
        y = F.conv2d(x, wt, None, stride, pad)
        g = torch.randn_like(y)

        def backward():  # input and weight gradients, the forward excluded
            torch.autograd.grad(y, (x, wt), g, retain_graph=True)
        return backward
    if kind == "bn":
        n, c, h, w = spec["n"], spec["c"], spec["h"], spec["w"]
        x = torch.randn(n, c, h, w, requires_grad=True)
        weight = torch.ones(c, requires_grad=True)
        bias = torch.zeros(c, requires_grad=True)
        rm, rv = torch.zeros(c), torch.ones(c)
        g = torch.randn(n, c, h, w)

        def bn_train():
            y = F.batch_norm(x, rm, rv, weight, bias, training=True, momentum=0.1, eps=1e-5)
            torch.autograd.grad(y, (x, weight, bias), g)
        return bn_train
    if kind == "gemm":
        a = torch.randn(spec["m"], spec["k"])
        b = torch.randn(spec["k"], spec["n"])

        def gemm():
            torch.mm(a, b)
        return gemm
    if kind == "infer":
        model = make_model(spec["model"]).eval()
        x = torch.randn(spec["batch"], 3, spec["size"], spec["size"])

        def infer():
            with torch.no_grad():
                model(x)
        return infer
    if kind == "train":
        model = make_model(spec["model"], spec["numClasses"]).train()
        opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"],
                              weight_decay=spec["weightDecay"])
        x = torch.randn(spec["batch"], 3, spec["size"], spec["size"])
        labels = torch.randint(0, spec["numClasses"], (spec["batch"],))
        amp = spec.get("amp")  # "bfloat16": forward and loss under CPU autocast

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16) if amp == "bfloat16" else contextlib.nullcontext():
                loss = F.cross_entropy(model(x), labels)
            loss.backward()
            opt.step()
        return step
    raise ValueError(f"unknown workload kind {kind}")


def export_onnx(model_name, path):
    model = make_model(model_name).eval()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), tmp, opset_version=13, do_constant_folding=True,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    os.replace(tmp, path)


def main():
    blas = "unknown"
    try:
        cfg = torch.__config__.show()
        blas = next((p.split("=", 1)[1] for p in cfg.replace(",", "\n").split() if p.startswith("BLAS_INFO=")), blas)
    except Exception:
        pass
    hello = {"ready": True, "torch": torch.__version__,
             "torchvision": torchvision.__version__ if torchvision is not None else "absent (ResNets defined in torch_peer.py)",
             "threads": torch.get_num_threads(), "python": sys.version.split()[0], "blasInfo": blas,
             "mkldnn": bool(torch.backends.mkldnn.is_available())}
    if DEVICE == "cuda":
        hello.update(cuda_info())
    reply(hello)
    workloads = {}
    on_gpu = set()  # ids of the GPU workloads
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "quit":
                break
            if cmd == "setup":
                workloads[msg["id"]] = setup(msg["spec"])
                if msg["spec"].get("kind") in GPU_KINDS:
                    on_gpu.add(msg["id"])
                reply({"ok": True})
            elif cmd == "run":
                fn = workloads[msg["id"]]
                t0 = time.perf_counter()
                fn()
                ms = (time.perf_counter() - t0) * 1000.0
                if msg["id"] in on_gpu:
                    reply({"ok": True, "ms": ms, "peakBytes": torch.cuda.max_memory_allocated()})
                else:
                    reply({"ok": True, "ms": ms})
            elif cmd == "release":
                workloads.pop(msg["id"], None)
                if msg["id"] in on_gpu:  # give the GPU's memory back before the next workload
                    on_gpu.discard(msg["id"])
                    gc.collect()
                    torch.cuda.empty_cache()
                reply({"ok": True})
            elif cmd == "export_onnx":
                export_onnx(msg["model"], msg["path"])
                reply({"ok": True})
            else:
                reply({"ok": False, "error": f"unknown command {cmd!r}"})
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            reply({"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})


if __name__ == "__main__":
    main()
