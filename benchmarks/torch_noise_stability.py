#!/usr/bin/env python3
"""The `paper` noise-stability preset written idiomatically in PyTorch, for a side-by-side timing
with `nsal score` (scripts/bench_ns_vs_torch.sh): the same checkpoint (loaded into the
equivalent torch model), the same pool, K draws with one global xi = lambda ||theta|| / ||dtheta||,
R(x) = mean_k ||softmax(f(x)) - softmax(f_k(x))||^2. Weights are perturbed through one flat
buffer (normal_ + add_) and restored from a saved copy, the fastest of the PyTorch variants.
Prints the seconds of the scoring (data loading excluded) and writes the scores as CSV.
--device cuda runs it on the GPU (TF32 off for fp32; --math bf16: channels-last inputs and bf16
autocast for the forward passes, the perturbation in fp32), timed after synchronising.

The weights and the pool come from an nsal checkpoint and dataset file (HDF5, read with h5py), or
with --export DIR from the .npy files and meta.json that bench_ns_gpu writes beside them
(benchmarks/npy_export.h), which need NumPy alone."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
import nsal_torch_models  # noqa: E402
from torch_settings import strict_fp32  # noqa: E402


def normalised(data, scale, mean, std):
    shape = (1, -1, *([1] * (data.ndim - 2)))
    mean = np.asarray(mean, dtype=np.float32).reshape(shape)
    std = np.asarray(std, dtype=np.float32).reshape(shape)
    return torch.from_numpy((data.astype(np.float32) * np.float32(scale) - mean) / std)


def load_h5(checkpoint, dataset, indices):
    try:
        import h5py
        from check_checkpoint import state_dict_from_h5
    except ImportError as e:
        raise SystemExit(f"torch_noise_stability: reading HDF5 needs h5py ({e}); give --export DIR "
                         "(the .npy files of bench_ns_gpu --out) instead")
    sd, meta = state_dict_from_h5(checkpoint)
    with h5py.File(dataset, "r") as f:
        x = f["train"]["x"]
        lo, hi = int(indices.min()), int(indices.max())
        data = x[lo:hi + 1][indices - lo]  # one slab read, then NumPy indexing
        pool = normalised(data, float(x.attrs.get("scale", 1.0)), f.attrs["mean"], f.attrs["std"])
    return sd, meta, pool


def load_export(directory, indices):
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)
    sd = {t["name"]: torch.from_numpy(np.load(os.path.join(directory, t["file"])))
          for t in meta["tensors"]}
    xm = meta["x"]
    data = np.load(os.path.join(directory, xm["file"]), mmap_mode="r")[indices]
    return sd, meta, normalised(data, xm["scale"], xm["mean"], xm["std"])


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
    ap.add_argument("checkpoint", nargs="?", help="nsal checkpoint (.h5); or give --export")
    ap.add_argument("--dataset", help="nsal dataset file (.h5) holding the pool")
    ap.add_argument("--export", help="directory of bench_ns_gpu's .npy export (no h5py needed)")
    ap.add_argument("--indices", required=True, help="pool indices, one per line")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--lambda", dest="lam", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--csv", default="")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--math", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    if not a.export and not (a.checkpoint and a.dataset):
        ap.error("give a checkpoint and --dataset, or --export DIR")
    torch.set_num_threads(a.threads)
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_noise_stability: skipped, PyTorch sees no CUDA device")
        return 0
    dev = torch.device(a.device)
    if a.device == "cuda":
        strict_fp32()
    idx = np.sort(np.loadtxt(a.indices, dtype=np.int64, ndmin=1))
    sd, meta, pool = load_export(a.export, idx) if a.export else load_h5(a.checkpoint, a.dataset, idx)
    model = nsal_torch_models.make(meta["arch"], int(meta["in_channels"]), int(meta["classes"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    model.eval().to(dev)
    x = pool.to(dev)
    bf16 = a.math == "bf16"
    if bf16 and a.device == "cuda":
        # Channels-last inputs: cuDNN runs every convolution channels-last (the weights are
        # converted per call, a small copy). The weights themselves stay contiguous, since the
        # perturbation works on one flat buffer that they are views of.
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
        np.savetxt(a.csv, np.stack([idx, s.cpu().numpy()], axis=1), delimiter=",",
                   header="index,score", comments="", fmt=["%d", "%.9g"])


if __name__ == "__main__":
    main()
