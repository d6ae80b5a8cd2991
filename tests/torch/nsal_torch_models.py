"""PyTorch definitions of nsal's models (nn/models/), with the same parameter names, layouts and
forward computation, so that nsal checkpoints load with load_state_dict(strict=True).

Used by tests/torch/check_checkpoint.py (interop) and benchmarks/torch_models_cpu.py (timing).
The references they follow: the common CIFAR ResNet-18 (kuangliu/pytorch-cifar), torchvision's
resnet18 and mobilenet_v2 (with the CIFAR stride change), and drn.py / segment.py of fyu/drn.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    def __init__(self, in_channels=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(1024, 128)
        self.fc2 = nn.Linear(128, classes)
        self.conv1_drop = nn.Dropout(0.25)
        self.conv2_drop = nn.Dropout(0.25)
        self.fc1_drop = nn.Dropout(0.5)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1_drop(self.conv1(x)), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1_drop(self.fc1(x.flatten(1))))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """ResNet BasicBlock; `shortcut` names the projection ("shortcut" or "downsample")."""

    def __init__(self, inp, out, stride=1, dilation=1, shortcut="shortcut"):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.proj_name = None
        if stride != 1 or inp != out:
            self.proj_name = shortcut
            setattr(self, shortcut, nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False),
                                                  nn.BatchNorm2d(out)))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        s = getattr(self, self.proj_name)(x) if self.proj_name else x
        return F.relu(out + s)


class ResNetCifar(nn.Module):
    def __init__(self, in_channels=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        inp = 64
        for i, w in enumerate([64, 128, 256, 512]):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, w, 2 if (i > 0 and b == 0) else 1))
                inp = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.linear(x.mean(dim=(2, 3)))


class ResNet18(nn.Module):
    """torchvision.models.resnet18 (torchvision is not installed here; same names and graph)."""

    def __init__(self, in_channels=3, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inp = 64
        for i, w in enumerate([64, 128, 256, 512]):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, w, 2 if (i > 0 and b == 0) else 1,
                                         shortcut="downsample"))
                inp = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def _conv_bn_relu(inp, out, kernel, stride=1, padding=0, dilation=1):
    return nn.Sequential(nn.Conv2d(inp, out, kernel, stride, padding, dilation, bias=False),
                         nn.BatchNorm2d(out), nn.ReLU())


class DrnD22Seg(nn.Module):
    """drn.py drn_d_22 trunk (layer0..layer8) + DRNSeg's `seg` head, bilinear x8 upsampling
    (F.interpolate, align_corners=False) instead of the fixed transposed conv."""

    def __init__(self, in_channels=3, classes=19):
        super().__init__()
        self.layer0 = _conv_bn_relu(in_channels, 16, 7, 1, 3)
        self.layer1 = _conv_bn_relu(16, 16, 3, 1, 1)
        self.layer2 = _conv_bn_relu(16, 32, 3, 2, 1)
        inp = 32
        for k, (w, stride, dil) in zip(range(3, 7), [(64, 2, 1), (128, 2, 1), (256, 1, 2),
                                                    (512, 1, 4)]):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, w, stride if b == 0 else 1, dil, "downsample"))
                inp = w
            setattr(self, f"layer{k}", nn.Sequential(*blocks))
        self.layer7 = _conv_bn_relu(512, 512, 3, 1, 2, 2)
        self.layer8 = _conv_bn_relu(512, 512, 3, 1, 1, 1)
        self.seg = nn.Conv2d(512, classes, 1)

    def forward(self, x):
        for k in range(9):
            x = getattr(self, f"layer{k}")(x)
        return F.interpolate(self.seg(x), scale_factor=8, mode="bilinear", align_corners=False)


def drn_up_transposed(classes):
    """segment.py's fixed upsampler: depthwise ConvTranspose2d(16, stride 8, padding 4) with the
    bilinear weights of fill_up_weights."""
    import math
    up = nn.ConvTranspose2d(classes, classes, 16, stride=8, padding=4, groups=classes, bias=False)
    w = up.weight.data
    f = math.ceil(w.size(2) / 2)
    c = (2 * f - 1 - f % 2) / (2. * f)
    for i in range(w.size(2)):
        for j in range(w.size(3)):
            w[0, 0, i, j] = (1 - math.fabs(i / f - c)) * (1 - math.fabs(j / f - c))
    for ch in range(1, w.size(0)):
        w[ch, 0] = w[0, 0]
    return up


class Mlp(nn.Module):
    def __init__(self, in_features, outputs, hidden=(512, 256, 128, 64)):
        super().__init__()
        self.n = len(hidden)
        inp = in_features
        for i, h in enumerate(hidden):
            setattr(self, f"fc{i + 1}", nn.Linear(inp, h))
            inp = h
        self.head = nn.Linear(inp, outputs)

    def forward(self, x):
        for i in range(self.n):
            x = F.relu(getattr(self, f"fc{i + 1}")(x))
        return self.head(x)


class _ConvBNReLU6(nn.Sequential):
    def __init__(self, inp, out, kernel, stride=1, groups=1):
        super().__init__(nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups,
                                   bias=False), nn.BatchNorm2d(out), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, stride, t):
        super().__init__()
        hidden = inp * t
        self.use_res = stride == 1 and inp == out
        layers = [] if t == 1 else [_ConvBNReLU6(inp, hidden, 1)]
        layers += [_ConvBNReLU6(hidden, hidden, 3, stride, hidden),
                   nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision mobilenet_v2 names; stem and the 24-channel stage at stride 1 (CIFAR)."""

    def __init__(self, in_channels=3, classes=10):
        super().__init__()
        feats = [_ConvBNReLU6(in_channels, 32, 3, 1)]
        inp = 32
        for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
            for i in range(n):
                feats.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        feats.append(_ConvBNReLU6(inp, 1280, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def make(arch, in_channels, classes, hidden=None):
    if arch == "mnist-cnn":
        return MnistCnn(in_channels, classes)
    if arch == "resnet18-cifar":
        return ResNetCifar(in_channels, classes)
    if arch == "resnet18":
        return ResNet18(in_channels, classes)
    if arch == "drn-d-22":
        return DrnD22Seg(in_channels, classes)
    if arch == "mlp":
        return Mlp(in_channels, classes, tuple(hidden) if hidden else (512, 256, 128, 64))
    if arch == "mobilenet-v2":
        return MobileNetV2(in_channels, classes)
    raise ValueError(f"no PyTorch definition for '{arch}'")
