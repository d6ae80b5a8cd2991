#!/usr/bin/env python3
"""Checkpoint interop between nsal and PyTorch, both ways, on whole models.

nsal -> torch: nsal_model_probe (tests/torch/model_probe.cpp) builds a model from a seed, runs a
training-mode forward (BatchNorm statistics move), evaluates inputs in eval mode and saves a
checkpoint. Here the checkpoint's params/ and buffers/ become a state_dict that loads into the
PyTorch definition of the same model (nsal_torch_models.py) with strict=True, and the eval-mode
outputs on the same inputs are compared.

torch -> nsal: a PyTorch model with its own random weights (and BatchNorm statistics moved by a
training-mode forward) is written in nsal's checkpoint format from its state_dict; the probe
builds the model the file names, loads it and evaluates the same inputs.

Tolerance: max |nsal - torch| <= RTOL * max(1e-3, max |torch|), RTOL = 1e-9 in float64 (summation
order only) and 1e-4 in float32 (the whole network's rounding).

Also checks the claim in nn/models/drn.h: DRNSeg's fixed transposed-conv upsampler equals
bilinear interpolation (align_corners=False) away from a 4-pixel border.

    /usr/bin/python3 tests/torch/check_checkpoint.py --probe build/tests/nsal_model_probe [ARCH...]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsal_torch_models  # noqa: E402

RTOL = {"f64": 1e-9, "f32": 1e-4}

# (arch, in_channels, classes, hidden, input shape, dtype)
CASES = [
    ("mnist-cnn", 1, 10, None, (3, 1, 28, 28), "f64"),
    ("resnet18-cifar", 3, 10, None, (2, 3, 32, 32), "f64"),
    ("resnet18-cifar", 3, 10, None, (2, 3, 32, 32), "f32"),
    ("resnet18", 3, 7, None, (2, 3, 64, 64), "f64"),
    ("drn-d-22", 3, 5, None, (1, 3, 32, 40), "f64"),
    ("mlp", 12, 3, [32, 16, 8], (5, 12), "f64"),
    ("mobilenet-v2", 3, 10, None, (2, 3, 32, 32), "f64"),
]


def state_dict_from_h5(path):
    sd = {}
    with h5py.File(path, "r") as f:
        for group in ("params", "buffers"):
            for name, ds in f[group].items():
                v = ds[()]
                sd[name] = torch.tensor(v) if np.ndim(v) == 0 else torch.from_numpy(np.array(v))
        meta = {k: f.attrs[k] for k in ("arch", "in_channels", "classes", "dtype")}
    meta = {k: v.decode() if isinstance(v, bytes) else v for k, v in meta.items()}
    return sd, meta


def write_h5_from_torch(path, model, arch, in_channels, classes, hidden, dtype):
    np_dtype = np.float64 if dtype == "f64" else np.float32
    params = dict(model.named_parameters())
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "nsal-checkpoint"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["nsal_version"] = "torch " + torch.__version__
        f.attrs["arch"] = arch
        f.attrs["in_channels"] = np.int64(in_channels)
        f.attrs["classes"] = np.int64(classes)
        f.attrs["hidden"] = np.array(hidden or [], dtype=np.float64)
        f.attrs["dtype"] = "float64" if dtype == "f64" else "float32"
        f.attrs["epoch"] = np.int64(0)
        f.attrs["seed"] = np.int64(0)
        gp, gb = f.create_group("params"), f.create_group("buffers")
        for name, t in model.state_dict().items():
            v = t.detach().cpu().numpy()
            if name in params:
                gp[name] = v.astype(np_dtype)
            elif name.endswith("num_batches_tracked"):
                gb.create_dataset(name, data=np.int64(v))
            else:
                gb[name] = v.astype(np_dtype)
        # No /rng group: dropout layers keep their state (only eval mode is compared).


def run_probe(probe, args):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([probe] + args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"probe {' '.join(args)} failed: {r.stderr.strip()}")


def compare(what, got, want, dtype):
    err = float(np.max(np.abs(got - want)))
    scale = max(1e-3, float(np.max(np.abs(want))))
    ok = np.isfinite(err) and err <= RTOL[dtype] * scale
    print(f"  {what}: max |diff| {err:.3g}, max |torch| {float(np.max(np.abs(want))):.3g} "
          f"{'ok' if ok else 'MISMATCH'}")
    return ok


def write_inputs(path, x, x_train=None):
    with h5py.File(path, "w") as f:
        f["x"] = x.numpy()
        if x_train is not None:
            f["x_train"] = x_train.numpy()


def read_output(path):
    with h5py.File(path, "r") as f:
        return np.array(f["y_nsal"])


def check_case(probe, tmp, case, seed):
    arch, cin, classes, hidden, shape, dtype = case
    tdtype = torch.float64 if dtype == "f64" else torch.float32
    tag = f"{arch}-{dtype}"
    print(f"{tag} {shape}")
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
    x_train = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
    ok = True

    # nsal -> torch
    io, ckpt = os.path.join(tmp, f"{tag}-io.h5"), os.path.join(tmp, f"{tag}-nsal.h5")
    write_inputs(io, x, x_train)
    args = ["save", "--arch", arch, "--in", str(cin), "--classes", str(classes), "--seed",
            str(seed), "--dtype", dtype, "--io", io, "--ckpt", ckpt]
    if hidden:
        args += ["--hidden", ",".join(map(str, hidden))]
    run_probe(probe, args)
    sd, meta = state_dict_from_h5(ckpt)
    assert meta["arch"] == arch and int(meta["classes"]) == classes, meta
    model = nsal_torch_models.make(arch, cin, classes, hidden).to(tdtype)
    model.load_state_dict(sd, strict=True)
    model.eval()
    with torch.no_grad():
        want = model(x.to(tdtype)).double().numpy()
    ok &= compare("nsal checkpoint -> torch", read_output(io), want, dtype)
    # The nsal side moved its BatchNorm statistics before saving: they must not be the defaults.
    moved = [k for k in sd if k.endswith("running_mean") and sd[k].abs().max() > 0]
    if any(k.endswith("running_mean") for k in sd) and not moved:
        print("  BatchNorm running_mean still zero: the training forward did not run")
        ok = False

    # torch -> nsal
    torch.manual_seed(seed + 1)
    model = nsal_torch_models.make(arch, cin, classes, hidden).to(tdtype)
    model.train()
    with torch.no_grad():
        model(x_train.to(tdtype))
    model.eval()
    with torch.no_grad():
        want = model(x.to(tdtype)).double().numpy()
    io2, ckpt2 = os.path.join(tmp, f"{tag}-io2.h5"), os.path.join(tmp, f"{tag}-torch.h5")
    write_inputs(io2, x)
    write_h5_from_torch(ckpt2, model, arch, cin, classes, hidden, dtype)
    run_probe(probe, ["load", "--ckpt", ckpt2, "--dtype", dtype, "--io", io2])
    ok &= compare("torch state_dict -> nsal", read_output(io2), want, dtype)
    return ok


def check_drn_upsampler():
    """segment.py's transposed conv vs bilinear interpolation, interior and border."""
    classes = 3
    up = nsal_torch_models.drn_up_transposed(classes).double()
    x = torch.rand(2, classes, 6, 7, dtype=torch.float64)
    with torch.no_grad():
        a = up(x)
    b = F.interpolate(x, scale_factor=8, mode="bilinear", align_corners=False)
    inner = (a - b)[:, :, 4:-4, 4:-4].abs().max().item()
    border = (a - b).abs().max().item()
    ok = a.shape == b.shape and inner < 1e-12 and border > 1e-3
    print(f"drn upsampler: transposed conv vs interpolate, interior max |diff| {inner:.3g}, "
          f"border {border:.3g} {'ok' if ok else 'MISMATCH'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--probe", required=True)
    ap.add_argument("archs", nargs="*")
    args = ap.parse_args()
    # One thread on both sides: the models are small here, and on a busy machine OpenMP's
    # spinning threads slow a 2-thread run down by orders of magnitude.
    torch.set_num_threads(1)
    cases = [c for c in CASES if not args.archs or c[0] in args.archs]
    failed = []
    with tempfile.TemporaryDirectory(prefix="nsal-ckpt-") as tmp:
        for i, case in enumerate(cases):
            try:
                if not check_case(args.probe, tmp, case, seed=100 + i):
                    failed.append(f"{case[0]}-{case[5]}")
            except Exception as e:  # report and go on with the other cases
                print(f"  ERROR: {e}")
                failed.append(f"{case[0]}-{case[5]}")
    if not check_drn_upsampler():
        failed.append("drn-upsampler")
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    print(f"all {len(cases)} models agree both ways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
