#!/usr/bin/env python3
"""Compares nsal's CPU layers and losses with PyTorch in float64.

For every case below it draws random inputs, parameters, buffers and an output gradient, runs
the op in torch (float64), runs the same op through nsal_layer_probe (tests/torch/layer_probe.cpp)
on the same raw blobs, and compares the output, the input gradients, the parameter gradients and
the buffers after the forward (BatchNorm running statistics).

Tolerance: for every compared array, max |nsal - torch| <= RTOL * max(1, max |torch|), with
RTOL = 1e-10. Both sides compute in float64; the differences are summation order only.

Prints one line per case and exits non-zero when any case mismatches or fails to run.
A new op is one entry in CASES (a name and a function that builds the case) plus, for a new op
name, one factory entry in the probe.

    /usr/bin/python3 tests/torch/compare_layers.py --probe build/tests/nsal_layer_probe [NAME...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

RTOL = 1e-10


class Case:
    """One op to compare.

    op/options: what the probe builds. inputs: [(name, tensor)]; float inputs get gradients.
    forward: torch function of the inputs (a module call for layers). module: the torch module
    whose parameters and buffers the probe loads (None for ops without state). kind: "layer"
    (backward with a random dy, parameter grads), "multi" (several inputs) or "loss" (a scalar,
    backward of the loss itself). training: False runs the forward only (eval mode).
    expected: optional function(case, nsal_outputs) -> torch outputs, for ops whose randomness
    torch cannot reproduce (dropout: the mask is taken from nsal's output and checked apart).
    """

    def __init__(self, op, inputs, forward, options=None, module=None, kind="layer",
                 training=True, expected=None):
        self.op, self.inputs, self.forward = op, inputs, forward
        self.options = options or {}
        self.module, self.kind, self.training, self.expected = module, kind, training, expected


def rand(*shape, lo=-1.0, hi=1.0):
    return torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo


def away_from(kinks, *shape, lo, hi, margin=0.05):
    x = rand(*shape, lo=lo, hi=hi)
    for _ in range(100):
        near = torch.zeros_like(x, dtype=torch.bool)
        for k in kinks:
            near |= (x - k).abs() < margin
        if not near.any():
            return x
        x[near] = rand(int(near.sum()), lo=lo, hi=hi)
    raise RuntimeError("could not draw values away from the kinks")


def distinct(*shape, gap=1e-2):
    n = int(np.prod(shape))
    return ((torch.randperm(n).double() - n / 2) * gap).reshape(shape)


def randomise(module, var_lo=0.5, var_hi=2.0):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(rand(*p.shape))
        for name, b in module.named_buffers():
            if name == "running_mean":
                b.copy_(rand(*b.shape))
            elif name == "running_var":
                b.copy_(rand(*b.shape, lo=var_lo, hi=var_hi))
            elif name == "num_batches_tracked":
                b.fill_(3)
    return module.double()


def layer(op, module, x, options, training=True):
    module = randomise(module)
    return Case(op, [("x", x)], module, options, module=module, training=training)


def bn_case(dims, shape, training=True, **kw):
    cls = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm2d, 3: torch.nn.BatchNorm3d}[dims]
    opts = {"num_features": shape[1]}
    opts.update(kw)
    return layer(f"batchnorm{dims}d", cls(shape[1], **kw), rand(*shape, lo=-2, hi=3), opts,
                 training)


def pool_case(kind, dims, shape, kernel, stride=None, padding=0, **kw):
    cls = {("max", 2): torch.nn.MaxPool2d, ("max", 3): torch.nn.MaxPool3d,
           ("avg", 2): torch.nn.AvgPool2d, ("avg", 3): torch.nn.AvgPool3d}[(kind, dims)]
    opts = {"kernel": kernel, "padding": padding}
    if stride is not None:
        opts["stride"] = stride
    opts.update(kw)
    return layer(f"{kind}pool{dims}d", cls(kernel, stride, padding, **kw), distinct(*shape), opts)


def conv_case(dims, shape, out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=True):
    cls = {2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[dims]
    module = cls(shape[1], out, kernel, stride=stride, padding=padding, dilation=dilation,
                 groups=groups, bias=bias)
    as_list = lambda v: list(v) if isinstance(v, tuple) else [v] * dims
    opts = {"in_channels": shape[1], "out_channels": out, "kernel": as_list(kernel),
            "stride": as_list(stride), "padding": as_list(padding),
            "dilation": as_list(dilation), "groups": groups, "bias": bias}
    return layer(f"conv{dims}d", module, rand(*shape), opts)


def fn_case(op, fn, x, options=None):
    return Case(op, [("x", x)], fn, options)


def dropout_case(p, shape, seed, step, mc=False):
    def expected(case, out):
        x = case.inputs[0][1]
        keep = torch.from_numpy(out["y"] != 0).reshape(x.shape)  # x > 0: zero means dropped
        frac = keep.double().mean().item()
        sigma = (p * (1 - p) / keep.numel()) ** 0.5
        if abs(frac - (1 - p)) > 6 * sigma:
            raise AssertionError(f"kept fraction {frac:.4f} for p = {p}")
        # torch's dropout: x * mask / (1 - p); its backward applies the same mask and scale.
        want = {"y": x.detach() * keep / (1 - p)}
        if case.training:
            want["dx.x"] = case.dy * keep / (1 - p)
        return want

    return Case("dropout", [("x", rand(*shape, lo=0.5, hi=1.5))], None,
                {"p": p, "seed": seed, "step": step, "mc": mc}, expected=expected,
                training=not mc)


def ce_case(shape, weight=None, ignore_index=-100, p_ignore=0.0):
    n, c = shape[0], shape[1]
    target = torch.randint(0, c, (n,) + tuple(shape[2:]))
    target[torch.rand(target.shape) < p_ignore] = ignore_index
    opts = {"ignore_index": ignore_index}
    w = None
    if weight:
        w = rand(c, lo=0.2, hi=2.0)
        opts["weight"] = w.tolist()
    fn = lambda x, t: F.cross_entropy(x, t.long(), weight=w, ignore_index=ignore_index)
    return Case("cross_entropy", [("x", rand(*shape, lo=-3, hi=3)), ("t", target.int())], fn, opts,
                kind="loss")


CASES = {
    "batchnorm1d_nc": lambda: bn_case(1, (8, 5)),
    "batchnorm1d_ncl_cumulative": lambda: bn_case(1, (3, 4, 7), momentum=None),
    "batchnorm2d_train": lambda: bn_case(2, (4, 3, 5, 6)),
    "batchnorm2d_momentum": lambda: bn_case(2, (2, 6, 3, 3), momentum=0.3, eps=1e-3),
    "batchnorm2d_eval": lambda: bn_case(2, (4, 3, 5, 6), training=False),
    "batchnorm2d_no_affine": lambda: bn_case(2, (3, 4, 4, 4), affine=False),
    "batchnorm2d_no_running_stats_eval":
        lambda: bn_case(2, (3, 4, 4, 4), training=False, track_running_stats=False),
    "batchnorm3d_train": lambda: bn_case(3, (2, 3, 3, 4, 5)),
    "batchnorm3d_eval": lambda: bn_case(3, (2, 3, 3, 4, 5), training=False),
    "relu": lambda: layer("relu", torch.nn.ReLU(), away_from([0], 4, 3, 5, lo=-1, hi=1), {}),
    "relu6": lambda: layer("relu6", torch.nn.ReLU6(), away_from([0, 6], 4, 30, lo=-2, hi=8), {}),
    "maxpool2d_k3_s2_p1": lambda: pool_case("max", 2, (2, 3, 9, 8), 3, 2, 1),
    "maxpool2d_k2": lambda: pool_case("max", 2, (2, 2, 6, 7), 2),
    "maxpool2d_rect": lambda: pool_case("max", 2, (1, 2, 7, 9), [3, 2], [1, 2], [1, 0]),
    "maxpool3d_k3_s2_p1": lambda: pool_case("max", 3, (2, 2, 5, 6, 5), 3, 2, 1),
    "avgpool2d_k3_s2_p1": lambda: pool_case("avg", 2, (2, 3, 7, 8), 3, 2, 1),
    "avgpool2d_exclude_pad":
        lambda: pool_case("avg", 2, (2, 3, 7, 8), 3, 2, 1, count_include_pad=False),
    "avgpool2d_k4_cifar_head": lambda: pool_case("avg", 2, (4, 8, 4, 4), 4),
    "avgpool3d_k3_s2_p1": lambda: pool_case("avg", 3, (2, 2, 5, 6, 5), 3, 2, 1),
    "avgpool3d_rect_exclude_pad":
        lambda: pool_case("avg", 3, (1, 2, 5, 4, 6), [3, 2, 2], [1, 2, 2], [1, 1, 0],
                          count_include_pad=False),
    "global_avg_pool_2d": lambda: fn_case("global_avg_pool", lambda x: x.mean(dim=(2, 3)),
                                          rand(3, 4, 5, 6)),
    "global_avg_pool_3d": lambda: fn_case("global_avg_pool", lambda x: x.mean(dim=(2, 3, 4)),
                                          rand(2, 3, 2, 3, 4)),
    "conv2d": lambda: conv_case(2, (2, 4, 9, 8), 6, 3, stride=2, padding=1),
    "conv2d_dilated_grouped": lambda: conv_case(2, (2, 4, 10, 9), 6, 3, padding=2, dilation=2,
                                                groups=2),
    "conv2d_depthwise_no_bias": lambda: conv_case(2, (3, 5, 7, 7), 5, 3, padding=1, groups=5,
                                                  bias=False),
    "conv3d": lambda: conv_case(3, (2, 2, 5, 6, 5), 3, 3, stride=(1, 2, 1), padding=1),
    "linear": lambda: layer("linear", torch.nn.Linear(12, 7), rand(5, 12),
                            {"in_features": 12, "out_features": 7}),
    "linear_no_bias_3d": lambda: layer("linear", torch.nn.Linear(6, 4, bias=False), rand(2, 3, 6),
                                       {"in_features": 6, "out_features": 4, "bias": False}),
    "dropout": lambda: dropout_case(0.3, (64, 50), seed=123, step=4),
    "dropout_mc_eval": lambda: dropout_case(0.5, (32, 40), seed=7, step=0, mc=True),
    "flatten": lambda: layer("flatten", torch.nn.Flatten(), rand(2, 3, 4, 5), {}),
    "flatten_middle": lambda: layer("flatten", torch.nn.Flatten(1, 2), rand(2, 3, 4, 5),
                                    {"start_dim": 1, "end_dim": 2}),
    "reshape": lambda: fn_case("reshape", lambda x: x.reshape(3, 2, -1, 4), rand(3, 48),
                               {"shape": [2, -1, 4]}),
    "upsample_scale_2": lambda: fn_case(
        "upsample_bilinear2d",
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
        rand(2, 3, 4, 5), {"scale": [2, 2]}),
    "upsample_scale_1.5_3": lambda: fn_case(
        "upsample_bilinear2d",
        lambda x: F.interpolate(x, scale_factor=(1.5, 3), mode="bilinear", align_corners=False),
        rand(2, 2, 5, 3), {"scale": [1.5, 3]}),
    "upsample_size": lambda: fn_case(
        "upsample_bilinear2d",
        lambda x: F.interpolate(x, size=(11, 4), mode="bilinear", align_corners=False),
        rand(1, 3, 5, 7), {"size": [11, 4]}),
    "softmax_nc": lambda: layer("softmax", torch.nn.Softmax(dim=1), rand(6, 10, lo=-5, hi=5), {}),
    "softmax_nchw": lambda: layer("softmax", torch.nn.Softmax(dim=1), rand(2, 5, 3, 4, lo=-5, hi=5),
                                  {}),
    "log_softmax_nc": lambda: layer("log_softmax", torch.nn.LogSoftmax(dim=1),
                                    rand(6, 10, lo=-5, hi=5), {}),
    "log_softmax_nchw": lambda: layer("log_softmax", torch.nn.LogSoftmax(dim=1),
                                      rand(2, 5, 3, 4, lo=-5, hi=5), {}),
    "residual_add": lambda: Case("residual_add", [("a", rand(2, 3, 4, 4)), ("b", rand(2, 3, 4, 4))],
                                 lambda a, b: a + b, kind="multi"),
    "concat": lambda: Case("concat", [("a", rand(2, 3, 4, 5)), ("b", rand(2, 1, 4, 5)),
                                      ("c", rand(2, 2, 4, 5))],
                           lambda a, b, c: torch.cat([a, b, c], dim=1), kind="multi"),
    "cross_entropy_nc": lambda: ce_case((8, 5)),
    "cross_entropy_weighted_ignore": lambda: ce_case((12, 6), weight=True, p_ignore=0.25),
    "cross_entropy_segmentation": lambda: ce_case((2, 4, 5, 6), weight=True, ignore_index=255,
                                                  p_ignore=0.2),
    "mse": lambda: Case("mse", [("x", rand(4, 3, 5)), ("t", rand(4, 3, 5))], F.mse_loss,
                        kind="loss"),
    "l1": lambda: Case("l1", [("x", rand(4, 3, 5)), ("t", rand(4, 3, 5))], F.l1_loss, kind="loss"),
}


def write(path, t):
    t.detach().contiguous().numpy().tofile(path)


def run_torch(case):
    """Returns {key: tensor} of the torch side (keys match the probe's output files) and draws
    the output gradient case.dy for layers in training mode."""
    xs = [t.detach().clone().requires_grad_(t.is_floating_point()) for _, t in case.inputs]
    if case.module is not None:
        case.module.train(case.training)
    if case.forward is None:  # dropout: torch cannot reproduce the mask; see Case.expected
        case.dy = rand(*case.inputs[0][1].shape) if case.training else None
        return {}
    y = case.forward(*xs)
    out = {"y": y.detach().reshape(-1) if case.kind == "loss" else y.detach()}
    if case.module is not None:
        for name, b in case.module.named_buffers():
            out["buffer." + name] = b.detach().double()
    if not case.training:
        return out
    if case.kind == "loss":
        y.backward()
    else:
        case.dy = rand(*y.shape)
        y.backward(case.dy)
    for (name, _), x in zip(case.inputs, xs):
        if x.requires_grad and (case.kind != "loss" or name == case.inputs[0][0]):
            out["dx." + name] = x.grad
    if case.module is not None:
        for name, p in case.module.named_parameters():
            out["grad." + name] = p.grad
    return out


def run_probe(case, probe, folder, state):
    """Runs the probe on the case's inputs and `state` (the module's state before torch ran)."""
    spec = {"op": case.op, "options": case.options, "training": case.training, "dir": folder,
            "inputs": []}
    for name, t in case.inputs:
        is_int = not t.is_floating_point()
        spec["inputs"].append({"name": name, "shape": list(t.shape),
                               "dtype": "i32" if is_int else "f64"})
        write(os.path.join(folder, f"in.{name}.bin"), t.int() if is_int else t)
    if case.module is not None:
        for name, _ in case.module.named_parameters():
            write(os.path.join(folder, f"param.{name}.bin"), state[name])
        for name, _ in case.module.named_buffers():
            write(os.path.join(folder, f"buffer.{name}.bin"), state[name].double())
    if case.dy is not None:
        write(os.path.join(folder, "dy.bin"), case.dy)
    spec_path = os.path.join(folder, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    res = subprocess.run([probe, spec_path], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip() or f"probe exited with {res.returncode}")
    out = {}
    for fname in os.listdir(folder):
        if fname.startswith("out.") and fname.endswith(".bin"):
            out[fname[4:-4]] = np.fromfile(os.path.join(folder, fname), dtype=np.float64)
    return out


def max_rel_err(got, want):
    """max |got - want| / max(1, max |want|); NaNs must sit at the same places."""
    if got.size == 0:
        return 0.0
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    if not np.array_equal(nan_g, nan_w):
        return float("inf")
    g, w = got[~nan_w], want[~nan_w]
    if g.size == 0:
        return 0.0
    return float(np.max(np.abs(g - w))) / max(1.0, float(np.max(np.abs(w))))


def compare(name, probe):
    torch.manual_seed(sum(map(ord, name)))
    case = CASES[name]()
    case.dy = None
    state = ({k: v.detach().clone() for k, v in case.module.state_dict().items()}
             if case.module is not None else None)
    want = run_torch(case)
    with tempfile.TemporaryDirectory(prefix="nsal_probe_") as folder:
        got = run_probe(case, probe, folder, state)
    if case.expected is not None:
        want.update(case.expected(case, got))
    if set(want) != set(got):
        return False, f"outputs differ: torch has {sorted(want)}, nsal has {sorted(got)}"
    worst, worst_key = -1.0, ""
    for key in sorted(want):
        w = want[key].detach().double().reshape(-1).numpy()
        if got[key].shape != w.shape:
            return False, f"{key}: nsal has {got[key].size} values, torch {w.size}"
        err = max_rel_err(got[key], w)
        if err > worst:
            worst, worst_key = err, key
    detail = f"max rel err {worst:.1e} in {worst_key} (of {', '.join(sorted(want))})"
    return worst <= RTOL, detail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--probe", required=True, help="path to nsal_layer_probe")
    ap.add_argument("--list", action="store_true", help="list the case names and exit")
    ap.add_argument("names", nargs="*", help="cases to run (default: all)")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    names = args.names or list(CASES)
    failures = 0
    for name in names:
        if name not in CASES:
            print(f"FAIL {name:36s} unknown case")
            failures += 1
            continue
        try:
            ok, detail = compare(name, args.probe)
        except Exception as e:  # a crash of one case must not hide the others
            ok, detail = False, f"{type(e).__name__}: {e}"
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:36s} {detail}", flush=True)
    print(f"{len(names) - failures}/{len(names)} cases match torch {torch.__version__} "
          f"(tolerance {RTOL:g} relative to max(1, max |torch|))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
