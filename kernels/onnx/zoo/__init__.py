"""The model zoo of the ONNX runtime's tests and `bench onnx`: published CNN architectures written in plain
PyTorch (kernels/onnx/zoo/_torch_models.py), random fixed-seed weights, exported to ONNX on demand.

It lives in the package, not under tests/, because `python -m hpc_kernels bench onnx --model resnet50` builds
its model at run time; only build() and export() need torch (`import hpc_kernels.onnx.zoo` does not)::

    from hpc_kernels.onnx import zoo
    zoo.export("resnet50", "r50.onnx", batch=1, height=224, width=224)   # batch, height, width dynamic
    zoo.NAMES                                                            # the families
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Spec:
    """What an exported model accepts: `fixed_hw` for a fixed image size (VGG-16's fully connected head
    reads a 7x7 map), else any size from `min_hw` up (checked to run in torch, onnxruntime and
    hpc_kernels.onnx: tests/onnx/test_networks.py::test_network_min_size). U-Net's 8x8 is its true
    minimum (three 2x2 poolings); the classifiers' 32x32 (SqueezeNet's 21x21) is a round floor a little
    above theirs (their last stage still sees a 1x1 map below it)."""

    min_hw: Tuple[int, int] = (32, 32)
    fixed_hw: Optional[Tuple[int, int]] = None
    channels: int = 3


SPECS: Dict[str, Spec] = {
    "resnet18": Spec(),
    "resnet50": Spec(),
    "mobilenetv2": Spec(),
    "mobilenetv3_small": Spec(),
    "densenet121": Spec(),
    "squeezenet1_1": Spec(min_hw=(21, 21)),
    "shufflenetv2_x1_0": Spec(),
    "googlenet": Spec(),
    "efficientnet_b0": Spec(),
    "vgg16": Spec(fixed_hw=(224, 224)),
    "unet_small": Spec(min_hw=(8, 8)),
}
NAMES = tuple(SPECS)
DEFAULT_SEED = 0
DEFAULT_OPSET = 18  # ai.onnx 18: the Reduce* ops take axes as an input, Resize has its current attributes


def _check(name: str, height: int, width: int) -> None:
    if name not in SPECS:
        raise ValueError(f"unknown zoo model {name!r}; available: {', '.join(NAMES)}")
    s = SPECS[name]
    if s.fixed_hw is not None and (height, width) != s.fixed_hw:
        raise ValueError(f"{name} takes {s.fixed_hw[0]}x{s.fixed_hw[1]} images only, got {height}x{width}")
    if height < s.min_hw[0] or width < s.min_hw[1]:
        raise ValueError(f"{name} needs images of at least {s.min_hw[0]}x{s.min_hw[1]}, got {height}x{width}")


def build(name: str, seed: int = DEFAULT_SEED):
    """The torch.nn.Module of `name` in eval mode with fixed-seed random weights (BatchNorm statistics
    randomised too). Needs torch."""
    if name not in SPECS:
        raise ValueError(f"unknown zoo model {name!r}; available: {', '.join(NAMES)}")
    try:
        from . import _torch_models as tm
    except ImportError as exc:
        raise ImportError(f"building the zoo model {name!r} needs PyTorch (pip install torch): {exc}") from None
    import torch

    torch.manual_seed(seed)
    return tm.randomise(tm.MODELS[name](), seed)


def export(name: str, path, *, batch: int = 1, height: int = 224, width: int = 224, dynamic: bool = True,
           opset: Optional[int] = None, seed: int = DEFAULT_SEED) -> str:
    """Export zoo model `name` to the ONNX file `path` (returned). Input "input" (batch, 3, height, width)
    float32, output "output"; with `dynamic` the batch, height and width are symbolic (height and width
    stay fixed for a fixed-size model). Uses torch.onnx.export's TorchScript exporter (dynamo=False):
    see _export for why."""
    _check(name, height, width)
    model = build(name, seed)
    return _export(model, os.fspath(path), (batch, SPECS[name].channels, height, width),
                   dynamic and SPECS[name].fixed_hw is None, dynamic, opset or DEFAULT_OPSET)


def _export(model, path: str, shape, dynamic_hw: bool, dynamic_batch: bool, opset: int) -> str:
    """torch 2.13's torch.onnx.export defaults to the dynamo exporter (dynamo=True: torch.export, then
    onnxscript's translation and optimizer). Both exporters give plain ai.onnx ops with symbolic batch,
    height and width for every zoo model (checked: onnxruntime matches torch at 97x113 on both); the
    TorchScript exporter (dynamo=False) is used because (1) with training=PRESERVE on an eval-mode model
    it keeps BatchNormalization as nodes, so the runtime's own BN folding is what the tests exercise
    (the dynamo exporter's optimizer, and the TorchScript exporter's default EVAL mode, fold BN into the
    Conv weights before the runtime sees it); (2) it needs no onnxscript and takes any opset >= 7
    (dynamo writes opset 18+ and upgrades to 20); (3) it exports 3-15x faster (ShuffleNetV2: 1.7 s
    against 36 s), which matters for the per-session test fixture and `bench onnx`. Its dynamic sizes
    are Shape/Gather/Unsqueeze/Concat subgraphs (ShuffleNet's channel-shuffle Reshape, U-Net's Pad and
    Resize) with Constant nodes, all plain ai.onnx; the axes are named batch, height, width."""
    import warnings

    import torch

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    axes = {}
    if dynamic_batch:
        axes[0] = "batch"
    if dynamic_hw:
        axes[2], axes[3] = "height", "width"
    out_axes = {0: "batch"} if dynamic_batch else {}
    if dynamic_hw and model.__class__.__name__ == "UNetSmall":  # a dense output: the image's size
        out_axes.update({2: "height", 3: "width"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice and tracer warnings
        torch.onnx.export(model, (x,), path, dynamo=False, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": axes, "output": out_axes} if axes else None, opset_version=opset,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    return path
