#!/usr/bin/env python3
"""PyTorch peer of bench_models_gpu: resnet18-cifar (the same architecture and parameter names
as nsal's: 3x3 stem, BasicBlocks 64/128/256/512, 1x1 conv + BN shortcuts, global average pool,
linear) on one GPU, in images/s.

Rows, as bench_models_gpu prints them:
  forward  batch 256 and 1024 (--batches), eval mode, torch.inference_mode():
    fp32  unfused  strict fp32: torch.backends.cudnn.allow_tf32 = False and
                   torch.backends.cuda.matmul.allow_tf32 = False (NCHW)
    fp32  fused    the same with every conv + BN folded (torch.nn.utils.fusion.fuse_conv_bn_eval)
    bf16  unfused  channels-last + torch.autocast("cuda", torch.bfloat16)
    bf16  fused    channels-last + autocast, BN folded
    fp32 / bf16  fused-tuned  with --tuned only, in a process of its own: the fused rows with
                   torch.backends.cudnn.benchmark on (the peer of nsal's --cudnn-autotune rows)
  train    batch 128: forward, cross-entropy, backward, SGD (momentum 0.9, weight decay 5e-4),
           strict fp32 and bf16 autocast (channels-last); path "sgd", or "sgd-tuned" with --tuned
           (the peer of nsal's sgd-tuned rows).

Each configuration is validated before it is timed (folded vs unfused logits, bf16 vs fp32,
finite training loss); then 3 warm-up runs and --reps timed runs with CUDA events around each;
the median is reported. cuDNN autotuning (torch.backends.cudnn.benchmark) is off, as nsal's
default chooses algorithms by heuristics too, except with --tuned (the -tuned rows) or
--cudnn-benchmark (every row).

  python3 benchmarks/torch_models_gpu.py [out.csv] [--batches 256,1024] [--reps 20]
"""
import argparse
import copy
import math
import sys


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("csv", nargs="?", default="torch_models_gpu.csv")
    p.add_argument("--batches", default="256,1024")
    p.add_argument("--train-batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--cudnn-benchmark", action="store_true")
    p.add_argument("--tuned", action="store_true",
                   help="only the fused-tuned rows (cudnn.benchmark on); run in its own process, "
                        "since PyTorch keeps the algorithm of each shape it has run once")
    return p.parse_args()


def main():
    args = parse()
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from torch.nn.utils.fusion import fuse_conv_bn_eval
        from torch_settings import strict_fp32
    except ImportError as e:
        print(f"torch_models_gpu: skipped: PyTorch is not available ({e})")
        return 0
    if not torch.cuda.is_available():
        print(f"torch_models_gpu: skipped: torch {torch.__version__} sees no CUDA device "
              f"(built with CUDA {torch.version.cuda})")
        return 0

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet18Cifar(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            layers, cin = [], 64
            for i, (w, s) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
                blocks = [BasicBlock(cin, w, s), BasicBlock(w, w, 1)]
                cin = w
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            self.linear = nn.Linear(512, classes)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            for i in range(4):
                out = getattr(self, f"layer{i + 1}")(out)
            out = F.adaptive_avg_pool2d(out, 1).flatten(1)
            return self.linear(out)

    def folded(model):
        """A copy with every conv + BN pair folded (eval mode); the BNs become identities."""
        m = copy.deepcopy(model).eval()
        m.conv1 = fuse_conv_bn_eval(m.conv1, m.bn1)
        m.bn1 = nn.Identity()
        for i in range(4):
            for block in getattr(m, f"layer{i + 1}"):
                block.conv1 = fuse_conv_bn_eval(block.conv1, block.bn1)
                block.bn1 = nn.Identity()
                block.conv2 = fuse_conv_bn_eval(block.conv2, block.bn2)
                block.bn2 = nn.Identity()
                if len(block.shortcut) == 2:
                    block.shortcut = nn.Sequential(
                        fuse_conv_bn_eval(block.shortcut[0], block.shortcut[1]))
        return m

    def rel_l2(a, b):
        a, b = a.double(), b.double()
        return (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)).item()

    def median_ms(fn, reps):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(reps):
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        times.sort()
        return times[len(times) // 2]

    strict_fp32()
    torch.backends.cudnn.benchmark = bool(args.cudnn_benchmark)
    dev = torch.device("cuda", 0)
    props = torch.cuda.get_device_properties(dev)
    gpu = f"{props.name} (sm_{props.major}{props.minor})"
    print(f"torch_models_gpu: {gpu} | torch {torch.__version__} CUDA {torch.version.cuda} | "
          f"cuDNN {torch.backends.cudnn.version()} | cudnn.benchmark "
          f"{torch.backends.cudnn.benchmark} | cudnn.deterministic "
          f"{torch.backends.cudnn.deterministic} (PyTorch's default)")
    print(f"resnet18-cifar (3x32x32, 10 classes), synthetic inputs; median of {args.reps} timed "
          "runs after 3 warm-up runs.\nfp32: TF32 off in cuDNN and cuBLAS, NCHW. bf16: "
          "channels-last + autocast. fused: conv + BN folded (fuse_conv_bn_eval).\n")
    print(f"{'what':<10} {'batch':>6} {'math':<5} {'path':<11} {'ms':>10} {'images/s':>12}  check")

    torch.manual_seed(1)
    model = ResNet18Cifar().to(dev)
    # Realistic BatchNorm statistics for eval mode, as bench_models_gpu: 20 training passes.
    with torch.no_grad():
        calib = torch.rand(256, 3, 32, 32, device=dev) * 2 - 1
        model.train()
        for _ in range(20):
            model(calib)
    model.eval()
    fused = folded(model)
    models = {
        ("fp32", "unfused"): model,
        ("fp32", "fused"): fused,
        ("bf16", "unfused"): copy.deepcopy(model).to(memory_format=torch.channels_last),
        ("bf16", "fused"): copy.deepcopy(fused).to(memory_format=torch.channels_last),
    }
    if args.tuned:
        # The fused models with cudnn.benchmark on (cuDNN times its algorithms per shape), the
        # peer of bench_models_gpu's fused-tuned rows (Context::set_conv_autotune). In a process
        # of their own: PyTorch caches one algorithm per shape whatever the flag, so after the
        # untuned rows these would reuse the heuristics' choices.
        torch.backends.cudnn.benchmark = True
        models = {("fp32", "fused-tuned"): models[("fp32", "fused")],
                  ("bf16", "fused-tuned"): models[("bf16", "fused")]}
    rows = []

    def add(what, batch, mathname, path, ms, check):
        ips = batch / (ms / 1e3) if math.isfinite(ms) else 0.0
        rows.append((what, batch, mathname, path, ms, ips, check))
        print(f"{what:<10} {batch:>6} {mathname:<5} {path:<11} {ms:>10.3f} {ips:>12.0f}"
              f"  {check}", flush=True)

    # A configuration that fails validation becomes a row saying why (0 images/s); the others
    # still run, and the exit status is 1.
    failures = []

    def failed(what, batch, mathname, path, why):
        failures.append(why)
        add(what, batch, mathname, path, float("nan"), "FAILED: " + why)

    for batch in [int(b) for b in args.batches.split(",") if b]:
        x = torch.rand(batch, 3, 32, 32, device=dev) * 2 - 1
        x_cl = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            ref = model(x)
            for (mathname, path), m in models.items():
                if mathname == "fp32":
                    run = lambda m=m: m(x)  # noqa: E731
                else:
                    def run(m=m):
                        with torch.autocast("cuda", dtype=torch.bfloat16):
                            return m(x_cl)
                got = run().float()
                err = rel_l2(got, ref)
                bound = 1e-4 if mathname == "fp32" else 0.2
                if not math.isfinite(err) or err > bound:
                    failed("forward", batch, mathname, path,
                           f"validation: {err:.3g} relative L2 from the fp32 unfused logits "
                           f"(bound {bound})")
                    continue
                check = "reference" if (mathname, path) == ("fp32", "unfused") else \
                    f"vs fp32 unfused {err:.1e}"
                add("forward", batch, mathname, path, median_ms(run, args.reps), check)

    # Training rows: "sgd" in the main run, "sgd-tuned" with --tuned.
    b = args.train_batch
    x = torch.rand(b, 3, 32, 32, device=dev) * 2 - 1
    y = torch.arange(b, device=dev) % 10
    for mathname in ("fp32", "bf16"):
        m = copy.deepcopy(model).train()
        xin = x
        if mathname == "bf16":
            m = m.to(memory_format=torch.channels_last)
            xin = x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        losses = []

        def step(m=m, opt=opt, xin=xin, mathname=mathname):
            opt.zero_grad(set_to_none=False)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=mathname == "bf16"):
                loss = F.cross_entropy(m(xin), y)
            loss.backward()
            opt.step()
            losses.append(loss.detach())

        step()
        ms = median_ms(step, args.reps)
        first, last = losses[0].item(), losses[-1].item()
        path = "sgd-tuned" if args.tuned else "sgd"
        if not (math.isfinite(first) and math.isfinite(last)):
            failed("train", b, mathname, path, f"validation: training loss {first} -> {last}")
            continue
        add("train", b, mathname, path, ms,
            f"loss {first:.4f} -> {last:.4f} over the timed steps (fixed batch)")

    with open(args.csv, "w") as f:
        f.write("gpu,what,batch,math,path,median_ms,images_per_s,check\n")
        for what, batch, mathname, path, ms, ips, check in rows:
            f.write(f'"{gpu}",{what},{batch},{mathname},{path},{ms:.4f},{ips:.1f},"{check}"\n')
    print(f"\nwrote {args.csv}" + (f"; {len(failures)} configuration(s) FAILED" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
