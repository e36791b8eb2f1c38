"""The zoo's CNN families in plain PyTorch (no torchvision), layer for layer as published: ResNet-18/50,
MobileNetV2, MobileNetV3-Small, DenseNet-121, SqueezeNet 1.1, ShuffleNetV2 x1.0, GoogLeNet, EfficientNet-B0,
VGG-16 and a small U-Net. Imported only by zoo.build(), so that `import hpc_kernels.onnx.zoo` needs no torch."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _divisible(v: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: to a multiple of 8, never more than 10% below v."""
    n = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return n + divisor if n < 0.9 * v else n


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: Optional[Callable[[], nn.Module]] = nn.ReLU,
            padding: Optional[int] = None, eps: float = 1e-5) -> nn.Sequential:
    """Conv (no bias) + BatchNorm [+ activation]: the unit every family but VGG and SqueezeNet is built of."""
    layers: List[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 if padding is None else padding, groups=groups, bias=False),
                               nn.BatchNorm2d(cout, eps=eps)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- ResNet (He et al. 2015, v1.5: stride on the 3x3)
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, width, 3, stride), conv_bn(width, width, 3, act=None))
        self.down = conv_bn(cin, width, 1, stride, act=None) if stride != 1 or cin != width else None

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.down is None else self.down(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        out = width * 4
        self.body = nn.Sequential(conv_bn(cin, width, 1), conv_bn(width, width, 3, stride), conv_bn(width, out, 1, act=None))
        self.down = conv_bn(cin, out, 1, stride, act=None) if stride != 1 or cin != out else None

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self, block, layers: Sequence[int], classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], 64
        for i, n in enumerate(layers):
            width = 64 * 2**i
            for j in range(n):
                stages.append(block(cin, width, 2 if j == 0 and i > 0 else 1))
                cin = width * block.expansion
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1))


# ---------------------------------------------------------------- MobileNetV2 (Sandler et al. 2018)
class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [conv_bn(cin, hidden, 1, act=nn.ReLU6)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6), conv_bn(hidden, cout, 1, act=None)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    # (expansion t, channels c, repeats n, first stride s), Table 2 of the paper
    CFG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: List[nn.Module] = [conv_bn(3, 32, 3, 2, act=nn.ReLU6)]
        cin = 32
        for t, c, n, s in self.CFG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# ---------------------------------------------------------------- MobileNetV3-Small (Howard et al. 2019)
class SqueezeExcite(nn.Module):
    """Global pool, 1x1 conv down + act, 1x1 conv up + gate, channel-wise scale (MobileNetV3: ReLU and
    HardSigmoid; EfficientNet: SiLU and Sigmoid)."""

    def __init__(self, channels: int, squeeze: int, act=nn.ReLU, gate=nn.Hardsigmoid):
        super().__init__()
        self.fc1, self.act = nn.Conv2d(channels, squeeze, 1), act()
        self.fc2, self.gate = nn.Conv2d(squeeze, channels, 1), gate()

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class MobileNetV3Block(nn.Module):
    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, act, stride: int):
        super().__init__()
        layers: List[nn.Module] = [conv_bn(cin, exp, 1, act=act, eps=1e-3)] if exp != cin else []
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act, eps=1e-3))
        if se:
            layers.append(SqueezeExcite(exp, _divisible(exp // 4)))
        layers.append(conv_bn(exp, cout, 1, act=None, eps=1e-3))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV3Small(nn.Module):
    RE, HS = nn.ReLU, nn.Hardswish
    # (in, kernel, expanded, out, squeeze-excite, activation, stride), Table 2 of the paper
    CFG = [(16, 3, 16, 16, True, RE, 2), (16, 3, 72, 24, False, RE, 2), (24, 3, 88, 24, False, RE, 1),
           (24, 5, 96, 40, True, HS, 2), (40, 5, 240, 40, True, HS, 1), (40, 5, 240, 40, True, HS, 1),
           (40, 5, 120, 48, True, HS, 1), (48, 5, 144, 48, True, HS, 1), (48, 5, 288, 96, True, HS, 2),
           (96, 5, 576, 96, True, HS, 1), (96, 5, 576, 96, True, HS, 1)]

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: List[nn.Module] = [conv_bn(3, 16, 3, 2, act=nn.Hardswish, eps=1e-3)]  # (BN eps 1e-3 as the TF original)
        layers += [MobileNetV3Block(*cfg) for cfg in self.CFG]
        layers.append(conv_bn(96, 576, 1, act=nn.Hardswish, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1024, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# ---------------------------------------------------------------- DenseNet-121 (Huang et al. 2017), BN-ReLU-Conv
class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int = 32, bn_size: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, bn_size * growth, 1, bias=False),
                                  nn.BatchNorm2d(bn_size * growth), nn.ReLU(), nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


class DenseNet121(nn.Module):
    def __init__(self, classes: int = 1000, growth: int = 32, blocks=(6, 12, 24, 16)):
        super().__init__()
        layers: List[nn.Module] = [conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
        c = 64
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(DenseLayer(c, growth))
                c += growth
            if i != len(blocks) - 1:  # transition: halve channels and resolution
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# ---------------------------------------------------------------- SqueezeNet 1.1 (Iandola et al. 2016; v1.1 of the repo)
class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.e1, self.e3 = nn.Conv2d(squeeze, e1, 1), nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        s = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(s)), F.relu(self.e3(s))], 1)


class SqueezeNet11(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731  (ceil_mode: as the Caffe original)
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, classes, 1), nn.ReLU())

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.classifier(self.features(x)), 1), 1)


# ---------------------------------------------------------------- ShuffleNetV2 x1.0 (Ma et al. 2018)
def channel_shuffle(x, groups: int = 2):
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, half, 1))
        b2in = cin if stride > 1 else half
        self.branch2 = nn.Sequential(conv_bn(b2in, half, 1), conv_bn(half, half, 3, stride, groups=half, act=None), conv_bn(half, half, 1))

    def forward(self, x):
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.branch2(b)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, classes: int = 1000, repeats=(4, 8, 4), channels=(24, 116, 232, 464, 1024)):
        super().__init__()
        layers: List[nn.Module] = [conv_bn(3, channels[0], 3, 2), nn.MaxPool2d(3, 2, 1)]
        cin = channels[0]
        for n, cout in zip(repeats, channels[1:4]):
            layers += [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1) for _ in range(n - 1)]
            cin = cout
        layers.append(conv_bn(cin, channels[4], 1))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels[4], classes)

    def forward(self, x):
        return self.fc(self.features(x).mean([2, 3]))


# ---------------------------------------------------------------- GoogLeNet / Inception v1 (Szegedy et al. 2014)
class Inception(nn.Module):
    """Four branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 5x5 (as in the paper; torchvision's port has a
    3x3 there); 3x3 max pool -> 1x1. Each conv is conv + BN + ReLU (BN, eps 1e-3, as in the BN-Inception ports)."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int):
        super().__init__()
        cb = lambda i, o, k: conv_bn(i, o, k, eps=1e-3)  # noqa: E731
        self.b1 = cb(cin, c1, 1)
        self.b2 = nn.Sequential(cb(cin, c3r, 1), cb(c3r, c3, 3))
        self.b3 = nn.Sequential(cb(cin, c5r, 1), cb(c5r, c5, 5))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), cb(cin, pp, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        cb = lambda i, o, k, s=1: conv_bn(i, o, k, s, eps=1e-3)  # noqa: E731
        pool = lambda k=3: nn.MaxPool2d(k, 2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            cb(3, 64, 7, 2), pool(), cb(64, 64, 1), cb(64, 192, 3), pool(),
            Inception(192, 64, 96, 128, 16, 32, 32), Inception(256, 128, 128, 192, 32, 96, 64), pool(),
            Inception(480, 192, 96, 208, 16, 48, 64), Inception(512, 160, 112, 224, 24, 64, 64),
            Inception(512, 128, 128, 256, 24, 64, 64), Inception(512, 112, 144, 288, 32, 64, 64),
            Inception(528, 256, 160, 320, 32, 128, 128), pool(2),
            Inception(832, 256, 160, 320, 32, 128, 128), Inception(832, 384, 192, 384, 48, 128, 128))
        self.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(1024, classes))  # (auxiliary classifiers: training only)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# ---------------------------------------------------------------- EfficientNet-B0 (Tan & Le 2019)
class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers: List[nn.Module] = [conv_bn(cin, hidden, 1, act=nn.SiLU, eps=1e-3)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU, eps=1e-3),
                   SqueezeExcite(hidden, max(1, cin // 4), act=nn.SiLU, gate=nn.Sigmoid),
                   conv_bn(hidden, cout, 1, act=None, eps=1e-3)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout  # (stochastic depth: identity in eval)

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class EfficientNetB0(nn.Module):
    # (expansion, kernel, stride, in, out, repeats), Table 1 of the paper
    CFG = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
           (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: List[nn.Module] = [conv_bn(3, 32, 3, 2, act=nn.SiLU, eps=1e-3)]
        for e, k, s, cin, cout, n in self.CFG:
            layers += [MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e) for i in range(n)]
        layers.append(conv_bn(320, 1280, 1, act=nn.SiLU, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


# ---------------------------------------------------------------- VGG-16 (Simonyan & Zisserman 2014, configuration D)
class VGG16(nn.Module):
    CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: List[nn.Module] = []
        cin = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)
        # The fully connected head reads the 7x7x512 map of a 224x224 image (the paper's fixed input size).
        self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
                                        nn.Dropout(), nn.Linear(4096, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# ---------------------------------------------------------------- U-Net (Ronneberger et al. 2015), small, padded convs
def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv_bn(cin, cout, 3), conv_bn(cout, cout, 3))


class UNetSmall(nn.Module):
    """Three 2x2 max-pool downsamplings (base 16 channels) and three upsamplings joined to the skips by
    Concat: two ConvTranspose 2x2/2 (padded to the skip's size when a pooling floored an odd side) and one
    bilinear Resize to the skip's size, so any image size of at least 8x8 runs."""

    def __init__(self, cin: int = 3, classes: int = 2, base: int = 16):
        super().__init__()
        c = [base, base * 2, base * 4, base * 8]
        self.down = nn.ModuleList([double_conv(cin, c[0]), double_conv(c[0], c[1]), double_conv(c[1], c[2])])
        self.bottom = double_conv(c[2], c[3])
        self.up3 = nn.ConvTranspose2d(c[3], c[2], 2, 2)
        self.dec3 = double_conv(c[3], c[2])
        self.up2 = nn.Conv2d(c[2], c[1], 1)  # channels down, then Resize
        self.dec2 = double_conv(c[2], c[1])
        self.up1 = nn.ConvTranspose2d(c[1], c[0], 2, 2)
        self.dec1 = double_conv(c[1], c[0])
        self.head = nn.Conv2d(c[0], classes, 1)

    @staticmethod
    def _pad_to(x, skip):
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        return F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])

    def forward(self, x):
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        x = self.dec3(torch.cat([skips[2], self._pad_to(self.up3(x), skips[2])], 1))
        up = F.interpolate(self.up2(x), size=skips[1].shape[2:], mode="bilinear", align_corners=False)
        x = self.dec2(torch.cat([skips[1], up], 1))
        x = self.dec1(torch.cat([skips[0], self._pad_to(self.up1(x), skips[0])], 1))
        return self.head(x)


MODELS: Dict[str, Callable[[], nn.Module]] = {
    "resnet18": lambda: ResNet(BasicBlock, (2, 2, 2, 2)),
    "resnet50": lambda: ResNet(Bottleneck, (3, 4, 6, 3)),
    "mobilenetv2": MobileNetV2,
    "mobilenetv3_small": MobileNetV3Small,
    "densenet121": DenseNet121,
    "squeezenet1_1": SqueezeNet11,
    "shufflenetv2_x1_0": ShuffleNetV2,
    "googlenet": GoogLeNet,
    "efficientnet_b0": EfficientNetB0,
    "vgg16": VGG16,
    "unet_small": UNetSmall,
}


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Fixed-seed random weights in eval mode; every BatchNorm gets running statistics and an affine
    transform far from identity (mean ~ N(0, 0.1), var ~ U(0.5, 2), gamma ~ U(0.5, 1.5), beta ~ N(0, 0.1)),
    so a runtime that folds BN into the convolutions is checked against one that does not. Convolution
    weights are He-normal (variance 2 / fan-in), which keeps ReLU activations O(1) through VGG's 13
    unnormalised convolutions (PyTorch's default init shrinks them ~2.4x per layer); biases small."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in = m.weight[0].numel() if not isinstance(m, nn.ConvTranspose2d) else m.weight.shape[0] // m.groups * m.weight[0, 0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
    return model.eval()
