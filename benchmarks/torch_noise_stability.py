#!/usr/bin/env python3
"""The `paper` noise-stability preset written idiomatically in PyTorch, for a side-by-side timing
with `nsal score` (scripts/bench_ns_vs_torch.sh): the same checkpoint (loaded into the
equivalent torch model), the same pool, K draws with one global xi = lambda ||theta|| / ||dtheta||,
R(x) = mean_k ||softmax(f(x)) - softmax(f_k(x))||^2. Weights are perturbed through one flat
buffer (normal_ + add_) and restored from a saved copy, the fastest of the PyTorch variants.
Prints the seconds of the scoring (data loading excluded) and writes the scores as CSV.
--device cuda runs it on the GPU (TF32 off for fp32; --math bf16: channels-last and bf16
autocast for the forward passes, the perturbation in fp32), timed after synchronising."""
import argparse
import os
import sys
import time

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
import nsal_torch_models  # noqa: E402
from check_checkpoint import state_dict_from_h5  # noqa: E402


def load_pool(path, indices):
    with h5py.File(path, "r") as f:
        x = f["train"]["x"]
        scale = float(x.attrs.get("scale", 1.0))
        data = x[np.sort(indices)].astype(np.float32) * scale
        mean = np.array(f.attrs["mean"], dtype=np.float32).reshape(1, -1, *([1] * (data.ndim - 2)))
        std = np.array(f.attrs["std"], dtype=np.float32).reshape(1, -1, *([1] * (data.ndim - 2)))
    return torch.from_numpy((data - mean) / std)


@torch.no_grad()
def score(model, x, draws, lam, batch, seed, bf16=False):
    torch.manual_seed(seed)
    params = [p for p in model.parameters()]
    flat = torch.nn.utils.parameters_to_vector(params)
    saved = flat.clone()
    batches = list(torch.split(x, batch))

    def probs(b):
        if not bf16:
            return torch.softmax(model(b), dim=1)
        with torch.autocast(device_type=b.device.type, dtype=torch.bfloat16):
            return torch.softmax(model(b).float(), dim=1)

    clean = [probs(b) for b in batches]
    scores = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    noise = torch.empty_like(flat)
    theta = flat.norm()
    for _ in range(draws):
        noise.normal_()
        flat.add_(noise, alpha=float(lam * theta / noise.norm()))
        torch.nn.utils.vector_to_parameters(flat, params)
        first = 0
        for b, c in zip(batches, clean):
            p = probs(b)
            scores[first:first + b.shape[0]] += ((p - c) ** 2).sum(dim=1).double()
            first += b.shape[0]
        flat.copy_(saved)
        torch.nn.utils.vector_to_parameters(flat, params)
    return scores / draws


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--indices", required=True, help="pool indices, one per line")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--lambda", dest="lam", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--csv", default="")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--math", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if a.device == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    sd, meta = state_dict_from_h5(a.checkpoint)
    model = nsal_torch_models.make(meta["arch"], int(meta["in_channels"]), int(meta["classes"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    model.eval().to(dev)
    idx = np.loadtxt(a.indices, dtype=np.int64, ndmin=1)
    x = load_pool(a.dataset, idx).to(dev)
    bf16 = a.math == "bf16"
    if bf16 and a.device == "cuda":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def run():
        if a.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        s = score(model, x, a.draws, a.lam, a.batch_size, 0, bf16)
        if a.device == "cuda":
            torch.cuda.synchronize()
        return s, time.perf_counter() - t0

    if a.device == "cuda":
        run()  # warm-up: cuDNN set-up, allocator
    s, seconds = run()
    where = f"{a.threads} threads" if a.device == "cpu" else torch.cuda.get_device_name(dev)
    print(f"torch {torch.__version__}: scored {len(idx)} samples, K = {a.draws}, {a.math}, "
          f"{where}: {seconds:.2f} s")
    if a.csv:
        np.savetxt(a.csv, np.stack([np.sort(idx), s.cpu().numpy()], axis=1), delimiter=",",
                   header="index,score", comments="", fmt=["%d", "%.9g"])


if __name__ == "__main__":
    main()
