#!/usr/bin/env python3
"""The cases of bench_models_cpu in PyTorch (CPU, float32), on the same thread count.

(a) eval-mode forward of resnet18-cifar (torch.no_grad), (b) training steps (forward +
cross-entropy + backward + SGD with momentum 0.9 and weight decay 5e-4) of resnet18-cifar and
mnist-cnn, (c) peak resident memory of each case (VmHWM, reset per case through
/proc/self/clear_refs) and the peak above the RSS before the model was built; each case runs in
its own interpreter. The models are the
definitions in tests/torch/nsal_torch_models.py, which load nsal checkpoints with strict=True.

    /usr/bin/python3 benchmarks/torch_models_cpu.py [--threads N] [--repeats N] [--batch N]
                                                     [--filter TEXT] [--json PATH]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "torch"))
import nsal_torch_models  # noqa: E402

CASES = [  # (name, arch, in_channels, classes, input size, batch, train)
    ("resnet18-cifar eval", "resnet18-cifar", 3, 10, (32, 32), 256, False),
    ("resnet18-cifar train", "resnet18-cifar", 3, 10, (32, 32), 128, True),
    ("mnist-cnn train", "mnist-cnn", 1, 10, (28, 28), 64, True),
    ("mnist-cnn train", "mnist-cnn", 1, 10, (28, 28), 128, True),
]


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_case(case, repeats):
    name, arch, cin, classes, hw, batch, train = case
    hwm = reset_peak_rss()
    base = status_kb("VmRSS")
    torch.manual_seed(1)
    model = nsal_torch_models.make(arch, cin, classes)
    model.train(train)
    x = torch.rand(batch, cin, *hw) * 2 - 1
    y = torch.randint(0, classes, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        if not train:
            with torch.no_grad():
                model(x)
            return
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    peak = status_kb("VmHWM")
    params = sum(p.numel() for p in model.parameters()) * 4
    return {"case": name, "arch": arch, "batch": batch, "train": train, "median_s": med,
            "images_per_s": batch / med, "param_bytes": params, "peak_rss_kb": peak,
            "peak_over_base_kb": peak - base if hwm and base >= 0 else -1}


def run_isolated(index, case, args):
    """Runs one case in a fresh interpreter, so that memory an earlier case left in torch's
    allocator cannot hide this case's peak."""
    cmd = [sys.executable, os.path.abspath(__file__), "--one-case", str(index), "--threads",
           str(args.threads), "--repeats", str(args.repeats), "--batch", str(case[5])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--filter", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("--one-case", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.one_case >= 0:
        case = CASES[args.one_case]
        if args.batch > 0:
            case = case[:5] + (args.batch,) + case[6:]
        print(json.dumps(run_case(case, args.repeats)))
        return
    print(f"cpu: {cpu_name()}\ntorch {torch.__version__}, threads {args.threads}, "
          f"{args.repeats} timed repeats after 1 warm-up, median; each case in its own process")
    results = []
    for i, case in enumerate(CASES):
        if args.batch > 0:
            case = case[:5] + (args.batch,) + case[6:]
        label = f"{case[0]} b{case[5]}"
        if args.filter and args.filter not in label:
            continue
        r = run_isolated(i, case, args)
        results.append(r)
        print(f"{label:<28} {r['median_s'] * 1e3:9.1f} ms {r['images_per_s']:9.1f} images/s   "
              f"params {r['param_bytes'] / 1048576:7.1f} MiB   peak RSS "
              f"{r['peak_rss_kb'] / 1024:7.1f} MiB (+{r['peak_over_base_kb'] / 1024:.1f} MiB over "
              f"the process before the model)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"framework": "torch " + torch.__version__, "threads": args.threads,
                       "cpu": cpu_name(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
