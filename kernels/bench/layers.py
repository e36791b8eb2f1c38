"""Convolution layers of the benchmark networks, loaded from the tables in kernels/bench/layers/.

One JSON file per network (ResNet-50 v1.5, VGG-16, AlexNet, MobileNetV2 as in torchvision, 224x224
input), one entry per distinct layer with its `count` in the network. The tables live inside the
package so an installed wheel can run `python -m hpc_kernels bench conv2d`; benchmarks/ loads them from
here too (one copy, nothing to keep in sync). `python -m hpc_kernels.bench.layers` prints the totals.
(The data folder layers/ has no __init__.py, so `import hpc_kernels.bench.layers` finds this module.)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Dict, List, Optional, Tuple

NETS = ("resnet50", "vgg16", "alexnet", "mobilenetv2")
QUICK_LAYERS = 8  # distinct layers in a --quick benchmark run, split over the networks asked for
FIELDS = ("c", "k", "h", "w", "r", "s", "stride", "padding", "dilation", "groups", "count")


@dataclass(frozen=True)
class ConvLayer:
    net: str
    name: str
    c: int  # input channels
    k: int  # output channels
    h: int  # input height
    w: int  # input width
    r: int  # kernel height
    s: int  # kernel width
    stride: int
    padding: int
    dilation: int
    groups: int
    count: int  # occurrences in the network

    @property
    def out_h(self) -> int:
        return (self.h + 2 * self.padding - self.dilation * (self.r - 1) - 1) // self.stride + 1

    @property
    def out_w(self) -> int:
        return (self.w + 2 * self.padding - self.dilation * (self.s - 1) - 1) // self.stride + 1

    @property
    def reduction(self) -> int:
        """Products summed into each output element: C/groups * R * S (the k of the im2col GEMM)."""
        return self.c // self.groups * self.r * self.s

    @property
    def macs(self) -> int:
        """Multiply-adds of one image through this layer once (count not applied)."""
        return self.k * self.reduction * self.out_h * self.out_w

    @property
    def flops(self) -> float:
        return 2.0 * self.macs

    def x_shape(self, batch: int, layout: str) -> Tuple[int, int, int, int]:
        return (batch, self.c, self.h, self.w) if layout == "NCHW" else (batch, self.h, self.w, self.c)

    def y_shape(self, batch: int, layout: str) -> Tuple[int, int, int, int]:
        return (batch, self.k, self.out_h, self.out_w) if layout == "NCHW" else (batch, self.out_h, self.out_w, self.k)

    @property
    def w_shape(self) -> Tuple[int, int, int, int]:
        return (self.k, self.c // self.groups, self.r, self.s)  # in every layout, as torch

    @property
    def conv_kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)


def table(net: str) -> dict:
    """The raw JSON table of `net` (description, input, layers)."""
    if net not in NETS:
        raise ValueError(f"unknown network {net!r}; known: {', '.join(NETS)}")
    return json.loads(resources.files("hpc_kernels.bench").joinpath(f"layers/{net}.json").read_text())


def load(net: str) -> List[ConvLayer]:
    """The distinct conv layers of `net`, in network order; checked so a bad edit fails loudly."""
    out = []
    for d in table(net)["layers"]:
        layer = ConvLayer(net, d["name"], **{f: int(d[f]) for f in FIELDS})
        if layer.c % layer.groups or layer.k % layer.groups or min(layer.out_h, layer.out_w) < 1 or layer.count < 1:
            raise ValueError(f"layers/{net}.json: inconsistent layer {d}")
        out.append(layer)
    return out


def kind(layer: ConvLayer) -> Tuple[int, int, int, bool]:
    """What decides the algorithm: kernel size, stride, and grouped (depthwise) or not."""
    return layer.r, layer.s, layer.stride, layer.groups > 1


def largest(layers: List[ConvLayer], n: int) -> List[ConvLayer]:
    """n layers that carry most of the network's time, in network order: the largest layer (flops
    times count) of each kind first, so the 7x7 stem, the strided and the depthwise layers are
    there even where their flop share is small, then the rest by flop share."""
    by_share = sorted(range(len(layers)), key=lambda i: -layers[i].count * layers[i].macs)
    firsts = list({kind(layers[i]): i for i in reversed(by_share)}.values())  # best of each kind
    firsts.sort(key=lambda i: -layers[i].count * layers[i].macs)
    keep = set(firsts[:n])
    keep.update([i for i in by_share if i not in keep][: n - len(keep)])
    return [layer for i, layer in enumerate(layers) if i in keep]


def nets_of(args: Any) -> List[str]:
    return list(NETS) if args.net == "all" else [args.net]


def layers_of(args: Any, per_net_quick: Optional[int] = None) -> Dict[str, List[ConvLayer]]:
    """The layers a benchmark run (args: its --net and --quick) times, per network: all of them, or with --quick the ones that carry most
    of each network's flops (QUICK_LAYERS split over the networks unless `per_net_quick` says)."""
    nets = nets_of(args)
    todo = {net: load(net) for net in nets}
    if args.quick:
        n = per_net_quick or max(2, QUICK_LAYERS // len(nets))
        todo = {net: largest(v, n) for net, v in todo.items()}
    return todo


def totals(net: str) -> Tuple[int, int, int]:
    """(distinct layers, conv layers, conv multiply-adds per image) of `net`."""
    layers = load(net)
    return len(layers), sum(x.count for x in layers), sum(x.count * x.macs for x in layers)


if __name__ == "__main__":  # the quick check of the tables against the published totals
    for name in NETS:
        distinct, convs, macs = totals(name)
        print(f"{name:<12} {convs:>3} conv layers ({distinct:>2} distinct), {macs / 1e9:.3f} G multiply-adds per 224x224 image")
