"""Argument parsing of `python -m hpc_kernels bench` and the dispatch to the suites (suite.py), peak (peak.py), onnx (onnx.py) and --compare (compare.py)."""
from __future__ import annotations

import argparse
import os
import sys

from .._api.conv_args import ALGORITHMS
from .._cli_format import positive  # (tune/cli.py imports it from here too)


def thread_count(text: str) -> int:
    """A thread count hpc_kernels.set_num_threads accepts (1..hpc_kernels._threads.max_threads()), checked
    before anything is measured."""
    from .._threads import max_threads

    n = positive(text)
    if n > max_threads():
        raise argparse.ArgumentTypeError(f"must be at most {max_threads()} (4 x the CPUs this process may use, at least 8), got {n}")
    return n


def _fraction(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= x < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {x}")
    return x


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .layers import NETS
    from .suite import SUITES

    p.add_argument(
        "what", nargs="?", choices=["gemm", "conv2d", "all", "peak", "onnx"], default="all",
        help="gemm: square and ResNet-50 im2col GEMMs; conv2d: network conv layers; all (default): both, every available "
             "backend, each against its reference libraries (and, where onnx, onnxruntime and torch are installed, the "
             "onnx models); peak: FMA peak and memory bandwidth (the roofline's ceilings); onnx: a whole ONNX model "
             "against onnxruntime",
    )
    p.add_argument("--threads", type=thread_count, nargs="+", default=None, help="thread counts (default: 1 and all cores)")
    # None: each benchmark's own default (gemm both dtypes, conv2d float32, the dtype of CNN inference)
    p.add_argument("--dtype", nargs="+", default=None, choices=["float32", "float64", "float16", "bfloat16"],
                   help="default: gemm both, conv2d float32 (cuda: gemm every dtype, conv2d float16; 16-bit types on cuda only)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer sizes/layers and rounds (bench all: a few minutes)")
    size.add_argument("--full", action="store_true", help="every size and every layer of every network (--net all)")
    p.add_argument("--rounds", type=positive, default=None, help="interleaved rounds per case (default 5, quick 3)")
    p.add_argument("--shapes", choices=["all", "square", "resnet50"], default="all", help="gemm: which shapes")
    p.add_argument("--json", metavar="PATH", help="also write the results (records of the unified schema, machine, versions) as JSON")
    p.add_argument("--report", metavar="DIR", help="write report.md, report.html, the figures and results.json into DIR")
    p.add_argument("--from-json", metavar="PATH", help="with --report: write the report of an earlier --json run, measuring nothing")
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                   help="compare two --json files: GFLOP/s ratios new/old per measurement, regressions flagged (exit 1)")
    p.add_argument("--tolerance", type=_fraction, default=0.10, help="--compare: a slowdown beyond this fraction is a regression (default 0.10)")
    p.add_argument("--backend", nargs="+", choices=list(SUITES), default=None,
                   help="suites to run (default: cpu for gemm/conv2d, every available backend for all or --report). "
                        "cpu: vs NumPy and torch; opencl: vs CLBlast on the same queue, cpu alongside; "
                        "cuda: vs cuBLAS (cupy.matmul) and cuDNN (torch), CUDA events; numba: vs NumPy and torch, cpu alongside")
    conv = p.add_argument_group("conv2d")
    conv.add_argument("--net", choices=list(NETS) + ["all"], default=None, help="network whose conv layers run (default resnet50; --full: all)")
    conv.add_argument("--batch", type=positive, default=1, help="images per call (default 1)")
    conv.add_argument("--layout", nargs="+", choices=["NCHW", "NHWC"], default=None,
                      help="layouts of x and y, each run in turn (default NCHW; bench all: NCHW and NHWC, the layout "
                           "the cpu backend is fastest in)")
    conv.add_argument(
        "--algorithms", nargs="+", default=["auto", "im2col", "convgemm"], choices=list(ALGORITHMS),
        help="hpc_kernels.conv2d algorithms timed (auto always; one that rejects a layer is skipped there)",
    )
    conv.add_argument("--no-torch", action="store_true", help="leave torch out even when it is installed")
    onnx = p.add_argument_group("onnx")
    onnx.add_argument("--model", default=None, metavar="NAME|PATH",
                      help="a zoo model (needs torch): resnet50 (default), resnet18, mobilenetv2, mobilenetv3_small, densenet121, "
                           "squeezenet1_1, shufflenetv2_x1_0, googlenet, efficientnet_b0, vgg16, unet_small; or an .onnx "
                           "file; --batch sets the batch")
    onnx.add_argument("--repeat", type=positive, default=None, help="timed runs per round in each process (default 10, quick 3)")
    onnx.add_argument("--size", type=positive, default=224, help="image height and width of a model with symbolic ones (default 224)")
    onnx.add_argument("--no-onnx", action="store_true", help="bench all: leave the onnx models out")


def run(args: argparse.Namespace) -> int:
    if args.compare:
        from .compare import run as run_compare

        return run_compare(args.compare, args.tolerance)
    # Checked before the run, not after minutes of measuring.
    if args.report and os.path.exists(args.report) and not os.path.isdir(args.report):
        print(f"bench --report: {args.report} exists and is not a directory", file=sys.stderr)
        return 2
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        print(f"bench --json: the folder of {args.json} does not exist", file=sys.stderr)
        return 2
    if args.from_json:
        return _render(args.from_json, args.report)
    if args.what == "peak":
        from .peak import run as run_peak

        return run_peak(args)
    if args.what == "onnx":
        from .onnx import run as run_onnx

        return run_onnx(args)
    if args.net is None:
        args.net = "all" if args.full else "resnet50"
    from .suite import run as run_suite

    return run_suite(args)


def _render(path: str, out_dir: str) -> int:
    """--from-json: the report of a results file written earlier (figures redrawn, nothing measured)."""
    from . import record
    from .report import write

    if not out_dir:
        print("bench --from-json: say where the report goes with --report DIR", file=sys.stderr)
        return 2
    try:
        paths = write(record.load(path), out_dir)
    except (ValueError, OSError) as exc:
        print(f"bench --from-json: {exc}", file=sys.stderr)
        return 2
    print(f"report: {paths['md']}, {paths['html']} (figures and results.json beside them)")
    return 0
