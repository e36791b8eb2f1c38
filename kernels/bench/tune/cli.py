"""`python -m hpc_kernels tune [conv2d|gemm] --backend cpu|numba|opencl|cuda [options]`: the one front end of the tuners in kernels/bench/tune/<backend>.py.

Each backend tunes its own parameters into its own namespace of the tuning store (kernels/_tuning.py):

    cpu     conv2d  im2col against convGemm per layer, where conv2d(algorithm="auto") asks the store
    cpu     gemm    the micro-kernel and the MC/KC/NC block sizes of the C++ engine per dtype
    numba   gemm    the KC x NC block of packed B per dtype
    opencl  gemm    the NDRange tiles per device and dtype (conv2d runs the same tiles)
    cuda    gemm    the tile configuration per GPU, dtype and precision, and cuBLAS or ours per shape class

The op may be left out: each backend's first op (cpu: conv2d). A backend that cannot run here is
said so, exit 2.

`python -m hpc_kernels tune gemm --backend cpu [--dtype float32 float64] [--sizes 1024 2048]
[--rounds 5] [--quick] [--dry-run]` (kernels/bench/tune/cpu_gemm.py) searches, per dtype and at the
current thread count, first the micro-kernel (every kernel of the running ISA, or the engine's
per-shape pick), then KC, MC and NC by coordinate descent around the sizes the cache model derives
(x0.5 .. x2, rounded to MR / NR, KC to 8), timing square products of the --sizes and one late-CNN
rectangle (512x4608 @ 4608x49, ResNet-50 layer 4). A change is kept only when it is >= 2 % faster
over all cases and no case slows by 5 % or more. The choice goes to the tuning store (backend "cpu",
op "gemm", key the dtype, device: CPU model and ISA), which the extension applies with
_cpu.configure_gemm when it loads. Precedence: KERNELS_CPU_MC/KC/NC (the stored entries are then
ignored; KERNELS_CPU_ISA picks the device whose entries apply) > tuning store > derived defaults.
--quick (one size, fewer steps, 3 rounds) takes well under a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# backend -> (the ops it tunes, the first one the default; default --sizes of its GEMM search)
TUNERS = {"cpu": (("conv2d", "gemm"), (1024, 2048)), "numba": (("gemm",), (256, 512)), "opencl": (("gemm",), (512, 1024)),
          "cuda": (("gemm",), (2048, 4096))}
HOST_DTYPES = ("float32", "float64")


def module_name(backend: str, what: str) -> str:
    """The tuner module under kernels/bench/tune/: <backend>.py for a backend's first op, else <backend>_<op>.py."""
    return backend if what == TUNERS[backend][0][0] else f"{backend}_{what}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..cli import positive, thread_count
    from ..layers import NETS

    p.add_argument("what", nargs="?", choices=["conv2d", "gemm"], default=None,
                   help="what to tune; default: the backend's first op (cpu: conv2d, also gemm; numba, opencl, cuda: gemm)")
    p.add_argument("--backend", choices=list(TUNERS), default="cpu",
                   help="cpu: im2col vs convGemm per conv layer (conv2d) or the GEMM micro-kernel and block sizes (gemm); "
                        "numba: GEMM block sizes; opencl: the NDRange tiles of the device; cuda: the tile configurations "
                        "per GPU and cuBLAS per shape class")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="gemm: square sizes timed per candidate (default: cpu 1024 2048, numba 256 512, opencl 512 1024, "
                        "cuda 2048 4096)")
    p.add_argument("--quick", action="store_true",
                   help="cpu gemm: a short search (one size, fewer steps, 3 rounds unless --rounds; under a minute)")
    p.add_argument("--net", nargs="+", choices=list(NETS), default=["resnet50"], help="cpu conv2d: networks whose layers are tuned")
    p.add_argument("--batch", type=positive, default=1, help="cpu conv2d: images per layer")
    p.add_argument("--layout", nargs="+", choices=["NCHW", "NHWC"], default=["NCHW"], help="cpu conv2d: layouts")
    p.add_argument("--dtype", nargs="+", choices=["float32", "float64", "float16", "bfloat16"], default=None,
                   help="default: float32 (cpu gemm: float32 float64; cuda: every dtype; 16-bit types on cuda only)")
    p.add_argument("--threads", type=thread_count, nargs="+", default=None,
                   help="cpu conv2d: thread counts; cpu gemm: one thread count (default: the current one)")
    p.add_argument("--rounds", type=positive, default=None, help="interleaved timing rounds per case (median; default 5, --quick 3)")
    p.add_argument("--dry-run", action="store_true", help="measure and print, do not write the tuning store")


def check(args: argparse.Namespace) -> str:
    """What is wrong with the request, or "" (then args.what, sizes, dtype and rounds are filled in)."""
    ops, sizes = TUNERS[args.backend]
    what = args.what or ops[0]
    if what not in ops:
        others = ", ".join(f"{what} --backend {b}" for b, (o, _) in TUNERS.items() if what in o) or "none"
        return (f"the {args.backend} backend tunes {' and '.join(ops)}, not {what} (conv2d on opencl, cuda and numba runs "
                f"the GEMM's tiles or blocks); {what} is tuned by: {others}")
    if args.backend != "cuda" and set(args.dtype or ()) - set(HOST_DTYPES):
        return "float16 and bfloat16 are tuned with --backend cuda"
    cpu_gemm = args.backend == "cpu" and what == "gemm"
    if args.backend == "cpu" and what == "conv2d" and args.sizes:
        return "--sizes is for the gemm tuners (tune gemm --backend cpu, numba, opencl, cuda); cpu conv2d tunes conv layers (--net)"
    if getattr(args, "quick", False) and not cpu_gemm:
        return "--quick is for tune gemm --backend cpu"
    if cpu_gemm and args.threads and len(args.threads) > 1:
        return "tune gemm --backend cpu measures at one thread count (--threads N, default the current one)"
    args.what = what
    args.sizes = args.sizes or list(sizes)
    if cpu_gemm and getattr(args, "quick", False) and len(args.sizes) > 1:
        args.sizes = args.sizes[:1]
    if args.rounds is None:
        args.rounds = 3 if getattr(args, "quick", False) else 5
    if args.backend != "cuda":
        args.dtype = args.dtype or (list(HOST_DTYPES) if cpu_gemm else ["float32"])
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
    return importlib.import_module(f"{__package__}.{module_name(args.backend, args.what)}").run(args)
