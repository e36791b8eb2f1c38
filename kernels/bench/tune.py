"""`python -m kernels tune conv2d`: measure im2col against convGemm on each layer and record the
faster in the tuning cache (kernels/_tuning.py) that conv2d(algorithm="auto") consults.

Only layers where "auto" consults the cache are tuned (kernels/backends/cpu/algorithms.py, heuristic_choice): not the
depthwise, NHWC and wide NCHW layers with taps (direct kernels), nor the 1x1 stride-1 unpadded
layers (a plain GEMM). A choice is kept per layer shape, dtype,
layout, thread count and machine (CPU model, ISA, library version).
"""
from __future__ import annotations

import argparse
import sys
from typing import Dict

import numpy as np

from .timing import interleaved_medians


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .layers import NETS

    p.add_argument("what", choices=["conv2d", "gemm"], help="conv2d: im2col vs convGemm per layer (cpu); gemm: OpenCL or CUDA tile sizes (--backend opencl|cuda)")
    p.add_argument("--backend", choices=["cpu", "opencl", "cuda"], default="cpu",
                   help="opencl: search the OpenCL kernels' tile sizes; cuda: the CUDA tile configurations per GPU architecture and cuBLAS per shape class")
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="gemm: square sizes timed per candidate (default: opencl 512 1024, cuda 2048 4096)")
    p.add_argument("--net", nargs="+", choices=list(NETS), default=["resnet50"], help="networks whose layers are tuned")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--layout", nargs="+", choices=["NCHW", "NHWC"], default=["NCHW"])
    p.add_argument("--dtype", nargs="+", choices=["float32", "float64", "float16", "bfloat16"], default=None,
                   help="default: float32 (cuda: every dtype; 16-bit types on cuda only)")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: the current one)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds per layer (median)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, do not write the cache")


def run(args: argparse.Namespace) -> int:
    import kernels

    if args.backend == "cuda":
        if args.what != "gemm":
            print("tune: the CUDA tiles are tuned with `tune gemm --backend cuda` (conv2d uses the same tiles)", file=sys.stderr)
            return 2
        from .tune_cuda import run as run_cuda

        args.sizes = args.sizes or [2048, 4096]
        return run_cuda(args)
    args.sizes = args.sizes or [512, 1024]
    args.dtype = args.dtype or ["float32"]
    if set(args.dtype) - {"float32", "float64"}:
        print("tune: float16 and bfloat16 are tuned with --backend cuda", file=sys.stderr)
        return 2
    if args.backend == "opencl" or args.what == "gemm":
        if args.backend != "opencl" or args.what != "gemm":
            print("tune: the OpenCL tiles are tuned with `tune gemm --backend opencl`; conv2d is tuned on the cpu backend", file=sys.stderr)
            return 2
        from .tune_opencl import run as run_opencl

        return run_opencl(args)

    from .. import _tuning
    from .._api import conv_args as _conv_args
    from ..backends.cpu import algorithms as _cpu_algorithms
    from .layers import load

    threads = args.threads or [kernels.get_num_threads()]
    results: Dict[str, dict] = {}
    rng = np.random.default_rng(0)
    for nt in threads:
        with kernels.num_threads(nt):
            for net in args.net:
                for layer in load(net):
                    for layout in args.layout:
                        for dt in map(np.dtype, args.dtype):
                            spec = _conv_args.make_spec("tune", layer.stride, layer.padding, layer.dilation, layer.groups, layout, None)
                            xs = layer.x_shape(args.batch, layout)
                            ws = (layer.k, layer.c // layer.groups, layer.r, layer.s)
                            shape = _conv_args.shape_of("tune", xs, ws, spec)
                            if _cpu_algorithms.heuristic_choice(shape, spec) is not None:
                                continue  # auto does not consult the cache for these
                            key = _tuning.layer_key(shape, spec, dt.name, nt)
                            if key in results:
                                continue
                            x = rng.standard_normal(xs).astype(dt)
                            w = rng.standard_normal(ws).astype(dt)
                            out = np.empty(shape.out_shape(layout), dt)
                            opts = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=layer.groups, layout=layout, out=out)
                            fns = {a: (lambda a=a: kernels.conv2d(x, w, algorithm=a, **opts)) for a in ("im2col", "convgemm")}
                            t = interleaved_medians(fns, rounds=args.rounds, settle_s=0.1 if nt > 1 else 0.0)
                            best = min(t, key=t.get)
                            results[key] = {"algorithm": best, "seconds": t}
                            print(f"{net:<12} {layer.name:<24} {layout} {dt.name} {nt}t: im2col {t['im2col'] * 1e3:8.3f} ms  "
                                  f"convgemm {t['convgemm'] * 1e3:8.3f} ms  -> {best}", flush=True)
    return save(results, "layer choices", args.dry_run)


def save(results: Dict[str, dict], what: str, dry_run: bool) -> int:
    """Write the measured choices into the tuning cache (unless a dry run) and say where."""
    from .. import _tuning

    if dry_run:
        print(f"{len(results)} {what} measured (dry run: cache not written)")
        return 0
    path = _tuning.record(results)
    print(f"{len(results)} {what} written to {path}")
    return 0
