"""`python -m kernels run gemm|conv2d --input ... --output out.npy`: a kernel as a workflow's
binary step (exit 0 on success, 1 with a one-line error on stderr, 2 for bad usage)."""
from __future__ import annotations

import argparse
import sys
from typing import List

from .tasks import conv2d_task, gemm_task

_INPUTS = {"gemm": (["a", "b"], ["c"]), "conv2d": (["x", "w"], ["bias"])}  # required, optional


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kernel", choices=sorted(_INPUTS), help="gemm: a.npy b.npy [c.npy]; conv2d: x.npy w.npy [bias.npy]")
    p.add_argument("--input", nargs="+", required=True, metavar="NPY", help="input .npy files in the kernel's order")
    p.add_argument("--output", required=True, metavar="NPY", help="result .npy file (written atomically)")
    p.add_argument("--backend", default=None, help="backend name (default: the dispatch's choice; cuda when the task has a GPU)")
    p.add_argument("--threads", type=int, default=None, help="threads, at most what the task owns (default: all of it)")
    g = p.add_argument_group("gemm")
    g.add_argument("--alpha", type=float, default=1.0)
    g.add_argument("--beta", type=float, default=0.0, help="scales c (the third input)")
    g.add_argument("--trans-a", action="store_true")
    g.add_argument("--trans-b", action="store_true")
    c = p.add_argument_group("conv2d")
    c.add_argument("--stride", type=int, nargs="+", default=[1], help="int or H W")
    c.add_argument("--padding", nargs="+", default=["0"], help="int, H W, top bottom left right, same or valid")
    c.add_argument("--dilation", type=int, nargs="+", default=[1], help="int or H W")
    c.add_argument("--groups", type=int, default=1)
    c.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW")
    c.add_argument("--activation", choices=["relu", "relu6"], default=None)
    c.add_argument("--algorithm", default="auto")


def _ints(values: List[str]):
    return values[0] if len(values) == 1 else tuple(values)


def _padding(values: List[str]):
    if len(values) == 1 and values[0] in ("same", "valid"):
        return values[0]
    try:
        return _ints([int(v) for v in values])
    except ValueError:
        raise ValueError(f"--padding must be integers, 'same' or 'valid', got {' '.join(values)}") from None


def run(args: argparse.Namespace) -> int:
    required, optional = _INPUTS[args.kernel]
    if not len(required) <= len(args.input) <= len(required) + len(optional):
        names = " ".join(f"{n}.npy" for n in required) + "".join(f" [{n}.npy]" for n in optional)
        print(f"python -m kernels run {args.kernel}: expected --input {names}, got {len(args.input)} file(s)", file=sys.stderr)
        return 2
    try:
        if args.kernel == "gemm":
            gemm_task(*args.input, out=args.output, alpha=args.alpha, beta=args.beta, trans_a=args.trans_a,
                      trans_b=args.trans_b, threads=args.threads, backend=args.backend)
        else:
            conv2d_task(*args.input, out=args.output, threads=args.threads, backend=args.backend, stride=_ints(args.stride),
                        padding=_padding(args.padding), dilation=_ints(args.dilation), groups=args.groups,
                        layout=args.layout, activation=args.activation, algorithm=args.algorithm)
    # Missing or unreadable files (OSError), bad shapes/options (ValueError), dtypes (TypeError), a
    # backend that is not installed (ImportError): one line naming what was wrong, no traceback.
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"python -m kernels run {args.kernel}: error: {exc}", file=sys.stderr)
        return 1
    return 0
