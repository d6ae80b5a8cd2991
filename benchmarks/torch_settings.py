"""Settings the PyTorch peers share (imported by benchmarks/torch_*.py, which run from any
directory: Python puts the script's own folder on the import path)."""
import torch


def strict_fp32():
    """TF32 off for cuDNN convolutions and cuBLAS matmuls: the per-backend setting where this
    PyTorch has it (the older flags are deprecated there), else the older flags."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    else:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
