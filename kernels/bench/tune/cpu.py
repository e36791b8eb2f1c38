"""`python -m hpc_kernels tune [conv2d] --backend cpu`: measure im2col against convGemm on each layer and
record the faster in the cpu namespace of the tuning store (op "conv2d"), which the cpu backend's
conv2d(algorithm="auto") asks.

Only layers where "auto" asks the store are tuned (kernels/backends/cpu/algorithms.py, heuristic_choice): not the
depthwise, NHWC and wide NCHW layers with taps (direct kernels), nor the 1x1 stride-1 unpadded
layers (a plain GEMM). A choice is kept per layer shape, dtype, layout and thread count
(hpc_kernels._tuning.layer_key), under the CPU model and ISA (hpc_kernels._tuning.cpu_device).
"""
from __future__ import annotations

import argparse
from typing import Dict

import numpy as np

from ..timing import interleaved_medians
from .results import save


def run(args: argparse.Namespace) -> int:
    import hpc_kernels

    from ... import _tuning
    from ..._api import conv_args as _conv_args
    from ...backends.cpu import algorithms as _cpu_algorithms  # its "auto" rule, and the store's cpu conv2d entry
    from ..layers import load

    threads = args.threads or [hpc_kernels.get_num_threads()]
    results: Dict[str, tuple] = {}
    rng = np.random.default_rng(0)
    for nt in threads:
        with hpc_kernels.num_threads(nt):
            for net in args.net:
                for layer in load(net):
                    for layout in args.layout:
                        for dt in map(np.dtype, args.dtype):
                            spec = _conv_args.make_spec("tune", layer.stride, layer.padding, layer.dilation, layer.groups, layout, None)
                            xs = layer.x_shape(args.batch, layout)
                            ws = (layer.k, layer.c // layer.groups, layer.r, layer.s)
                            shape = _conv_args.shape_of("tune", xs, ws, spec)
                            if _cpu_algorithms.heuristic_choice(shape, spec) is not None:
                                continue  # auto does not ask the store for these
                            key = _tuning.layer_key(shape, spec, dt.name, nt)
                            if key in results:
                                continue
                            x = rng.standard_normal(xs).astype(dt)
                            w = rng.standard_normal(ws).astype(dt)
                            out = np.empty(shape.out_shape(layout), dt)
                            opts = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                                        layout=layout, out=out, backend="cpu")
                            fns = {a: (lambda a=a: hpc_kernels.conv2d(x, w, algorithm=a, **opts)) for a in ("im2col", "convgemm")}
                            t = interleaved_medians(fns, rounds=args.rounds, settle_s=0.1 if nt > 1 else 0.0)
                            best = min(t, key=t.get)
                            results[key] = ("conv2d", key, best, {"seconds": dict(t)})
                            print(f"{net:<12} {layer.name:<24} {layout} {dt.name} {nt}t: im2col {t['im2col'] * 1e3:8.3f} ms  "
                                  f"convgemm {t['convgemm'] * 1e3:8.3f} ms  -> {best}", flush=True)
    return save("cpu", _tuning.cpu_device(), list(results.values()), "layer choices", args.dry_run)
