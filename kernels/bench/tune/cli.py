"""`python -m hpc_kernels tune [conv2d|gemm] --backend cpu|numba|opencl|cuda [options]`: the one front end of the tuners in kernels/bench/tune/<backend>.py.

Each backend tunes its own parameters into its own namespace of the tuning store (kernels/_tuning.py):

    cpu     conv2d  im2col against convGemm per layer, where conv2d(algorithm="auto") asks the store
    numba   gemm    the KC x NC block of packed B per dtype
    opencl  gemm    the NDRange tiles per device and dtype (conv2d runs the same tiles)
    cuda    gemm    the tile configuration per GPU, dtype and precision, and cuBLAS or ours per shape class

The op may be left out (each backend tunes one). A backend that cannot run here is said so, exit 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# backend -> (the op it tunes, default --sizes of its GEMM search)
TUNERS = {"cpu": ("conv2d", ()), "numba": ("gemm", (256, 512)), "opencl": ("gemm", (512, 1024)), "cuda": ("gemm", (2048, 4096))}
HOST_DTYPES = ("float32", "float64")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..cli import positive, thread_count
    from ..layers import NETS

    p.add_argument("what", nargs="?", choices=["conv2d", "gemm"], default=None,
                   help="what to tune; default: the one op the backend tunes (cpu: conv2d; numba, opencl, cuda: gemm)")
    p.add_argument("--backend", choices=list(TUNERS), default="cpu",
                   help="cpu: im2col vs convGemm per conv layer; numba: GEMM block sizes; opencl: the NDRange tiles of the "
                        "device; cuda: the tile configurations per GPU and cuBLAS per shape class")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="gemm: square sizes timed per candidate (default: numba 256 512, opencl 512 1024, cuda 2048 4096)")
    p.add_argument("--net", nargs="+", choices=list(NETS), default=["resnet50"], help="cpu conv2d: networks whose layers are tuned")
    p.add_argument("--batch", type=positive, default=1, help="cpu conv2d: images per layer")
    p.add_argument("--layout", nargs="+", choices=["NCHW", "NHWC"], default=["NCHW"], help="cpu conv2d: layouts")
    p.add_argument("--dtype", nargs="+", choices=["float32", "float64", "float16", "bfloat16"], default=None,
                   help="default: float32 (cuda: every dtype; 16-bit types on cuda only)")
    p.add_argument("--threads", type=thread_count, nargs="+", default=None, help="cpu conv2d: thread counts (default: the current one)")
    p.add_argument("--rounds", type=positive, default=5, help="interleaved timing rounds per case (median)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, do not write the tuning store")


def check(args: argparse.Namespace) -> str:
    """What is wrong with the request, or "" (then args.what, sizes and dtype are filled in)."""
    op, sizes = TUNERS[args.backend]
    what = args.what or op
    if what != op:
        others = ", ".join(f"{o} --backend {b}" for b, (o, _) in TUNERS.items() if o == what) or "none"
        return (f"the {args.backend} backend tunes {op}, not {what} (conv2d on opencl, cuda and numba runs the GEMM's "
                f"tiles or blocks); {what} is tuned by: {others}")
    if args.backend != "cuda" and set(args.dtype or ()) - set(HOST_DTYPES):
        return "float16 and bfloat16 are tuned with --backend cuda"
    if args.backend == "cpu" and args.sizes:
        return "--sizes is for the gemm tuners (numba, opencl, cuda); the cpu backend tunes conv layers (--net)"
    args.what = what
    args.sizes = args.sizes or list(sizes)
    if args.backend != "cuda":
        args.dtype = args.dtype or ["float32"]
    return ""


def run(args: argparse.Namespace) -> int:
    from ... import _dispatch

    err = check(args)
    if err:
        print(f"tune: {err}", file=sys.stderr)
        return 2
    be = _dispatch._load(args.backend)
    if not be.available:
        print(f"tune --backend {args.backend}: backend {args.backend} is not available: {be.reason}", file=sys.stderr)
        return 2
    return importlib.import_module(f"{__package__}.{args.backend}").run(args)
